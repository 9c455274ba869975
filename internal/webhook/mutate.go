package webhook

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// projectedDefaultMode is the defaultMode kube-apiserver gives a projected
// volume that sets none (0644). Setting it explicitly makes the injected
// volume equal to its defaulted form, so a reinvocation finds nothing to
// change.
const projectedDefaultMode int32 = 0o644

// Mutator applies the azure-workload-identity rules to a pod. It does no
// I/O: the handler looks the service account up and hands it in.
type Mutator struct {
	// AuthorityHost is the AZURE_AUTHORITY_HOST injected; empty injects none.
	AuthorityHost string
	// TenantID is the AZURE_TENANT_ID injected when the service account has
	// no tenant-id annotation.
	TenantID string
	// Audience is the projected token's audience; empty means
	// DefaultAudience.
	Audience string
	// Layout names the volume and mount; empty means DefaultLayout.
	Layout Layout
}

// Mutate adds the environment variables and the volume mount to every
// container and init container the pod does not skip, and the projected
// token volume to the pod (even when every container is skipped). A
// variable a container already defines, or whose value is empty, is left
// out; a volume or mount of the same name is replaced. The error, for an
// expiration annotation that does not parse or is out of bounds, is meant
// for the pod's author.
func (m Mutator) Mutate(pod *corev1.Pod, sa *corev1.ServiceAccount) error {
	expiration, err := tokenExpiration(pod, sa)
	if err != nil {
		return err
	}
	name := podName(pod)
	volume := m.volume(name, expiration)
	mount := corev1.VolumeMount{Name: volume.Name, MountPath: m.Layout.MountPath(), ReadOnly: true}
	env := []corev1.EnvVar{
		{Name: ClientIDEnv, Value: sa.Annotations[ClientIDAnnotation]},
		{Name: TenantIDEnv, Value: tenantID(sa, m.TenantID)},
		{Name: FederatedTokenFileEnv, Value: m.Layout.TokenFile()},
		{Name: AuthorityHostEnv, Value: m.AuthorityHost},
	}
	skip := skipContainers(pod)
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			if skip[containers[i].Name] {
				continue
			}
			containers[i].Env = addEnv(containers[i].Env, env)
			containers[i].VolumeMounts = setVolumeMount(containers[i].VolumeMounts, mount)
		}
	}
	pod.Spec.Volumes = setVolume(pod.Spec.Volumes, volume)
	return nil
}

// volume is the projected service-account token volume.
func (m Mutator) volume(podName string, expiration int64) corev1.Volume {
	audience := m.Audience
	if audience == "" {
		audience = DefaultAudience
	}
	mode := projectedDefaultMode
	return corev1.Volume{
		Name: m.Layout.VolumeName(podName),
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Path:              m.Layout.TokenPath(),
				ExpirationSeconds: &expiration,
				Audience:          audience,
			}}},
			DefaultMode: &mode,
		}},
	}
}

// podName is the name the v1.6 volume name is derived from: the pod's name,
// or, for a pod that only has a generateName (the API server names pods of
// ReplicaSets, Jobs and the like after admission), generateName + " (prefix)".
func podName(pod *corev1.Pod) string {
	if pod.Name != "" {
		return pod.Name
	}
	return pod.GenerateName + " (prefix)"
}

// serviceAccountName is the pod's service account, "default" when it names
// none (as the ServiceAccount admission plugin will set it).
func serviceAccountName(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return DefaultServiceAccount
}

// tokenExpiration is the projected token's expirationSeconds: the pod's
// annotation, else the service account's, else DefaultTokenExpiration (an
// empty annotation counts as absent). It must lie within
// [MinTokenExpiration, MaxTokenExpiration].
func tokenExpiration(pod *corev1.Pod, sa *corev1.ServiceAccount) (int64, error) {
	expiration := DefaultTokenExpiration
	for _, src := range []struct {
		what string
		v    string
	}{
		{"pod", pod.Annotations[TokenExpirationAnnotation]},
		{"service account", sa.Annotations[TokenExpirationAnnotation]},
	} {
		if src.v == "" {
			continue
		}
		v, err := strconv.ParseInt(src.v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s annotation %s of the %s: %w", TokenExpirationAnnotation, strconv.Quote(src.v), src.what, err)
		}
		expiration = v
		break
	}
	if expiration < MinTokenExpiration || expiration > MaxTokenExpiration {
		return 0, fmt.Errorf("token expiration %d not valid. Expected value to be between %d and %d", expiration, MinTokenExpiration, MaxTokenExpiration)
	}
	return expiration, nil
}

// tenantID is the service account's tenant-id annotation when the key is
// present, even with an empty value, else def.
func tenantID(sa *corev1.ServiceAccount, def string) string {
	if v, ok := sa.Annotations[TenantIDAnnotation]; ok {
		return v
	}
	return def
}

// skipContainers is the set of container names in the pod's skip-containers
// annotation: split on ';', each part trimmed.
func skipContainers(pod *corev1.Pod) map[string]bool {
	v := pod.Annotations[SkipContainersAnnotation]
	if v == "" {
		return nil
	}
	skip := map[string]bool{}
	for _, name := range strings.Split(v, ";") {
		skip[strings.TrimSpace(name)] = true
	}
	return skip
}

// addEnv appends, in order, each variable of want that env does not
// already define and whose value is not empty.
func addEnv(env, want []corev1.EnvVar) []corev1.EnvVar {
	defined := make(map[string]bool, len(env))
	for _, e := range env {
		defined[e.Name] = true
	}
	for _, w := range want {
		if !defined[w.Name] && w.Value != "" {
			env = append(env, w)
		}
	}
	return env
}

// setVolumeMount replaces the mount named like m, or appends m.
func setVolumeMount(mounts []corev1.VolumeMount, m corev1.VolumeMount) []corev1.VolumeMount {
	for i := range mounts {
		if mounts[i].Name == m.Name {
			mounts[i] = m
			return mounts
		}
	}
	return append(mounts, m)
}

// setVolume replaces the volume named like v, or appends v.
func setVolume(volumes []corev1.Volume, v corev1.Volume) []corev1.Volume {
	for i := range volumes {
		if volumes[i].Name == v.Name {
			volumes[i] = v
			return volumes
		}
	}
	return append(volumes, v)
}
