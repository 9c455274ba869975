package webhook

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	testTenant    = "2cc9de02-78cf-4805-9209-87ed3eef3f38"
	saTenant      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClientID  = "a1f45e16-dfd8-4b05-b50d-08484d4edc4c"
	testAuthority = "https://fedcred.example.com/"
	// The v1.6 volume names, computed outside Go:
	// "azure-workload-identity-reserved-" + sha256(name).hexdigest()[:30].
	pod1Volume      = "azure-workload-identity-reserved-5ea618a82d38c4b9d0322273f1b4b2" // "pod1"
	generatedVolume = "azure-workload-identity-reserved-daee0f7030811d50fdedf2224ffe80" // "web-7c9f8d5b6- (prefix)"
	v16TokenFile    = "/var/run/secrets/azure/wi/token/azure-identity-token"
	v15TokenFile    = "/var/run/secrets/azure/tokens/azure-identity-token"
)

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func container(name string, envs ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: "registry.example/app:1", Env: envs}
}

// injected is a container as the webhook leaves it: envs, then mounts.
func injected(c corev1.Container, envs []corev1.EnvVar, mounts ...corev1.VolumeMount) corev1.Container {
	c.Env = append(c.Env, envs...)
	c.VolumeMounts = append(c.VolumeMounts, mounts...)
	return c
}

func roMount(name, path string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: true}
}

func tokenVolume(name, path string, expiration int64, audience string) corev1.Volume {
	mode := int32(0o644)
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources:     []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: path, ExpirationSeconds: &expiration, Audience: audience}}},
		DefaultMode: &mode,
	}}}
}

func serviceAccount(annotations map[string]string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ai-svc", Namespace: "pets", Annotations: annotations}}
}

func labelledPod(name string, annotations map[string]string, spec corev1.PodSpec) *corev1.Pod {
	spec.ServiceAccountName = "ai-svc"
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pets", Labels: map[string]string{UseLabel: "true"}, Annotations: annotations},
		Spec:       spec,
	}
}

// fullEnv is what a container gets from the default test mutator and an
// annotated service account, in the v1.6 layout.
func fullEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		env("AZURE_CLIENT_ID", testClientID),
		env("AZURE_TENANT_ID", saTenant),
		env("AZURE_FEDERATED_TOKEN_FILE", v16TokenFile),
		env("AZURE_AUTHORITY_HOST", testAuthority),
	}
}

func annotatedSA() *corev1.ServiceAccount {
	return serviceAccount(map[string]string{ClientIDAnnotation: testClientID, TenantIDAnnotation: saTenant})
}

func TestMutator_Mutate(t *testing.T) {
	t.Parallel()
	defaultMutator := Mutator{AuthorityHost: testAuthority, TenantID: testTenant}
	tests := []struct {
		name     string
		mutator  Mutator
		pod      *corev1.Pod
		sa       *corev1.ServiceAccount
		wantSpec corev1.PodSpec
		wantErr  string
	}{
		{
			name:    "v1.6 layout: variables in order and the mount in every container and init container",
			mutator: defaultMutator,
			pod: labelledPod("pod1", nil, corev1.PodSpec{
				InitContainers: []corev1.Container{container("migrate")},
				Containers:     []corev1.Container{container("app"), container("sidecar")},
			}),
			sa: annotatedSA(),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				InitContainers:     []corev1.Container{injected(container("migrate"), fullEnv(), roMount(pod1Volume, "/var/run/secrets/azure/wi"))},
				Containers: []corev1.Container{
					injected(container("app"), fullEnv(), roMount(pod1Volume, "/var/run/secrets/azure/wi")),
					injected(container("sidecar"), fullEnv(), roMount(pod1Volume, "/var/run/secrets/azure/wi")),
				},
				Volumes: []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "v1.5 layout: fixed volume name, tokens mount path and token file",
			mutator: Mutator{AuthorityHost: testAuthority, TenantID: testTenant, Layout: LayoutV15},
			pod:     labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa:      annotatedSA(),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers: []corev1.Container{injected(container("app"), []corev1.EnvVar{
					env("AZURE_CLIENT_ID", testClientID),
					env("AZURE_TENANT_ID", saTenant),
					env("AZURE_FEDERATED_TOKEN_FILE", v15TokenFile),
					env("AZURE_AUTHORITY_HOST", testAuthority),
				}, roMount("azure-identity-token", "/var/run/secrets/azure/tokens"))},
				Volumes: []corev1.Volume{tokenVolume("azure-identity-token", "azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "variables the container defines are kept, by name, whatever their source",
			mutator: defaultMutator,
			pod: labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app",
				env("LOG_LEVEL", "debug"),
				env("AZURE_TENANT_ID", "mine"),
				corev1.EnvVar{Name: "AZURE_AUTHORITY_HOST", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cloud"}, Key: "authority"}}},
			)}}),
			sa: annotatedSA(),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers: []corev1.Container{injected(container("app",
					env("LOG_LEVEL", "debug"),
					env("AZURE_TENANT_ID", "mine"),
					corev1.EnvVar{Name: "AZURE_AUTHORITY_HOST", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "cloud"}, Key: "authority"}}},
				), []corev1.EnvVar{env("AZURE_CLIENT_ID", testClientID), env("AZURE_FEDERATED_TOKEN_FILE", v16TokenFile)},
					roMount(pod1Volume, "/var/run/secrets/azure/wi"))},
				Volumes: []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "no client-id annotation: no AZURE_CLIENT_ID, the rest still injected",
			mutator: defaultMutator,
			pod:     labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa:      serviceAccount(nil),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers: []corev1.Container{injected(container("app"), []corev1.EnvVar{
					env("AZURE_TENANT_ID", testTenant),
					env("AZURE_FEDERATED_TOKEN_FILE", v16TokenFile),
					env("AZURE_AUTHORITY_HOST", testAuthority),
				}, roMount(pod1Volume, "/var/run/secrets/azure/wi"))},
				Volumes: []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "empty tenant-id annotation beats the webhook's tenant: no AZURE_TENANT_ID",
			mutator: defaultMutator,
			pod:     labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa:      serviceAccount(map[string]string{ClientIDAnnotation: testClientID, TenantIDAnnotation: ""}),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers: []corev1.Container{injected(container("app"), []corev1.EnvVar{
					env("AZURE_CLIENT_ID", testClientID),
					env("AZURE_FEDERATED_TOKEN_FILE", v16TokenFile),
					env("AZURE_AUTHORITY_HOST", testAuthority),
				}, roMount(pod1Volume, "/var/run/secrets/azure/wi"))},
				Volumes: []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "no authority host configured and a custom audience",
			mutator: Mutator{TenantID: testTenant, Audience: "api://fedcred"},
			pod:     labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa:      serviceAccount(map[string]string{ClientIDAnnotation: testClientID}),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers: []corev1.Container{injected(container("app"), []corev1.EnvVar{
					env("AZURE_CLIENT_ID", testClientID),
					env("AZURE_TENANT_ID", testTenant),
					env("AZURE_FEDERATED_TOKEN_FILE", v16TokenFile),
				}, roMount(pod1Volume, "/var/run/secrets/azure/wi"))},
				Volumes: []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://fedcred")},
			},
		},
		{
			name:    "skip-containers: listed containers and init containers untouched, names trimmed",
			mutator: defaultMutator,
			pod: labelledPod("pod1", map[string]string{SkipContainersAnnotation: " istio-proxy ;istio-init; "}, corev1.PodSpec{
				InitContainers: []corev1.Container{container("istio-init"), container("migrate")},
				Containers:     []corev1.Container{container("app"), container("istio-proxy")},
			}),
			sa: annotatedSA(),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				InitContainers: []corev1.Container{
					container("istio-init"),
					injected(container("migrate"), fullEnv(), roMount(pod1Volume, "/var/run/secrets/azure/wi")),
				},
				Containers: []corev1.Container{
					injected(container("app"), fullEnv(), roMount(pod1Volume, "/var/run/secrets/azure/wi")),
					container("istio-proxy"),
				},
				Volumes: []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "every container skipped: the volume is still added",
			mutator: defaultMutator,
			pod:     labelledPod("pod1", map[string]string{SkipContainersAnnotation: "app"}, corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa:      annotatedSA(),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers:         []corev1.Container{container("app")},
				Volumes:            []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "generateName pod: the volume is named after generateName plus ' (prefix)'",
			mutator: defaultMutator,
			pod: func() *corev1.Pod {
				p := labelledPod("", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}})
				p.GenerateName = "web-7c9f8d5b6-"
				return p
			}(),
			sa: annotatedSA(),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers:         []corev1.Container{injected(container("app"), fullEnv(), roMount(generatedVolume, "/var/run/secrets/azure/wi"))},
				Volumes:            []corev1.Volume{tokenVolume(generatedVolume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "a volume and mount of the same name are replaced in place",
			mutator: defaultMutator,
			pod: labelledPod("pod1", nil, corev1.PodSpec{
				Containers: []corev1.Container{func() corev1.Container {
					c := container("app")
					c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: pod1Volume, MountPath: "/elsewhere"}}
					return c
				}()},
				Volumes: []corev1.Volume{
					{Name: pod1Volume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				},
			}),
			sa: annotatedSA(),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers: []corev1.Container{func() corev1.Container {
					c := container("app", fullEnv()...)
					c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, roMount(pod1Volume, "/var/run/secrets/azure/wi")}
					return c
				}()},
				Volumes: []corev1.Volume{
					tokenVolume(pod1Volume, "token/azure-identity-token", 3600, "api://AzureADTokenExchange"),
					{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				},
			},
		},
		{
			name:    "v1.5 layout: an existing azure-identity-token volume is replaced",
			mutator: Mutator{AuthorityHost: testAuthority, TenantID: testTenant, Layout: LayoutV15},
			pod: labelledPod("pod1", nil, corev1.PodSpec{
				Containers: []corev1.Container{container("app")},
				Volumes:    []corev1.Volume{tokenVolume("azure-identity-token", "azure-identity-token", 7200, "old")},
			}),
			sa: serviceAccount(map[string]string{ClientIDAnnotation: testClientID}),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers: []corev1.Container{injected(container("app"), []corev1.EnvVar{
					env("AZURE_CLIENT_ID", testClientID),
					env("AZURE_TENANT_ID", testTenant),
					env("AZURE_FEDERATED_TOKEN_FILE", v15TokenFile),
					env("AZURE_AUTHORITY_HOST", testAuthority),
				}, roMount("azure-identity-token", "/var/run/secrets/azure/tokens"))},
				Volumes: []corev1.Volume{tokenVolume("azure-identity-token", "azure-identity-token", 3600, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "the pod's expiration annotation sets the token lifetime",
			mutator: defaultMutator,
			pod: labelledPod("pod1", map[string]string{TokenExpirationAnnotation: "86400"},
				corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa: serviceAccount(map[string]string{ClientIDAnnotation: testClientID, TenantIDAnnotation: saTenant, TokenExpirationAnnotation: "7200"}),
			wantSpec: corev1.PodSpec{
				ServiceAccountName: "ai-svc",
				Containers:         []corev1.Container{injected(container("app"), fullEnv(), roMount(pod1Volume, "/var/run/secrets/azure/wi"))},
				Volumes:            []corev1.Volume{tokenVolume(pod1Volume, "token/azure-identity-token", 86400, "api://AzureADTokenExchange")},
			},
		},
		{
			name:    "an expiration out of bounds refuses the pod",
			mutator: defaultMutator,
			pod:     labelledPod("pod1", nil, corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa:      serviceAccount(map[string]string{TokenExpirationAnnotation: "600"}),
			wantErr: "token expiration 600 not valid. Expected value to be between 3600 and 86400",
		},
		{
			name:    "an expiration that does not parse refuses the pod",
			mutator: defaultMutator,
			pod: labelledPod("pod1", map[string]string{TokenExpirationAnnotation: "1h"},
				corev1.PodSpec{Containers: []corev1.Container{container("app")}}),
			sa:      annotatedSA(),
			wantErr: `annotation "1h" of the pod`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := tt.pod.DeepCopy()
			err := tt.mutator.Mutate(pod, tt.sa)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Mutate() error = %v, want one containing %q", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.pod, pod); diff != "" {
					t.Errorf("a refused pod was changed (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Mutate() error = %v", err)
			}
			if diff := cmp.Diff(tt.wantSpec, pod.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.pod.ObjectMeta, pod.ObjectMeta); diff != "" {
				t.Errorf("metadata changed (-before +after):\n%s", diff)
			}

			// Reinvocation: mutating the mutated pod changes nothing, and
			// so yields no patch.
			again := pod.DeepCopy()
			if err := tt.mutator.Mutate(again, tt.sa); err != nil {
				t.Fatalf("second Mutate() error = %v", err)
			}
			if diff := cmp.Diff(pod, again); diff != "" {
				t.Errorf("second Mutate() changed the pod (-first +second):\n%s", diff)
			}
			patch, err := podPatch(pod, again)
			if err != nil || patch != nil {
				t.Errorf("reinvocation patch = %s, %v; want none", patch, err)
			}
		})
	}
}

func TestTokenExpiration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pod     string // the pod's annotation, "" for none
		sa      string // the service account's annotation, "" for none
		want    int64
		wantErr string
	}{
		{name: "no annotation: the default", want: 3600},
		{name: "service account's annotation", sa: "7200", want: 7200},
		{name: "pod's annotation beats the service account's", pod: "5400", sa: "7200", want: 5400},
		{name: "pod's annotation alone", pod: "43200", want: 43200},
		{name: "lower bound accepted", pod: "3600", want: 3600},
		{name: "upper bound accepted", sa: "86400", want: 86400},
		{name: "below the lower bound", pod: "3599", wantErr: "token expiration 3599 not valid. Expected value to be between 3600 and 86400"},
		{name: "above the upper bound", sa: "86401", wantErr: "token expiration 86401 not valid. Expected value to be between 3600 and 86400"},
		{name: "negative", pod: "-3600", wantErr: "token expiration -3600 not valid"},
		{name: "pod's annotation does not parse", pod: "1h", sa: "7200", wantErr: `parse azure.workload.identity/service-account-token-expiration annotation "1h" of the pod: strconv.ParseInt`},
		{name: "service account's annotation does not parse", sa: "7200s", wantErr: `annotation "7200s" of the service account`},
		{name: "overflow does not parse", pod: "99999999999999999999", wantErr: "value out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{}
			if tt.pod != "" {
				pod.Annotations = map[string]string{TokenExpirationAnnotation: tt.pod}
			}
			sa := serviceAccount(nil)
			if tt.sa != "" {
				sa.Annotations = map[string]string{TokenExpirationAnnotation: tt.sa}
			}
			got, err := tokenExpiration(pod, sa)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("tokenExpiration() = %d, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("tokenExpiration() = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestTenantID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{name: "no annotations: the webhook's tenant", want: testTenant},
		{name: "other annotations only: the webhook's tenant", annotations: map[string]string{ClientIDAnnotation: testClientID}, want: testTenant},
		{name: "annotation: the service account's tenant", annotations: map[string]string{TenantIDAnnotation: saTenant}, want: saTenant},
		{name: "empty annotation: empty, not the webhook's", annotations: map[string]string{TenantIDAnnotation: ""}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tenantID(serviceAccount(tt.annotations), testTenant); got != tt.want {
				t.Errorf("tenantID() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSkipContainers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		annotation *string
		want       map[string]bool
	}{
		{name: "no annotation", want: nil},
		{name: "empty annotation", annotation: new(""), want: nil},
		{name: "one name", annotation: new("istio-proxy"), want: map[string]bool{"istio-proxy": true}},
		{name: "names split on ';' and trimmed", annotation: new(" a ;b\t; c"), want: map[string]bool{"a": true, "b": true, "c": true}},
		{name: "commas do not split", annotation: new("a,b"), want: map[string]bool{"a,b": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{}
			if tt.annotation != nil {
				pod.Annotations = map[string]string{SkipContainersAnnotation: *tt.annotation}
			}
			got := skipContainers(pod)
			delete(got, "") // an empty part matches no container
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("skipContainers() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodAndServiceAccountName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		pod      corev1.Pod
		wantPod  string
		wantSA   string
		wantVol6 string
	}{
		{name: "named pod with a service account", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod1"}, Spec: corev1.PodSpec{ServiceAccountName: "ai-svc"}},
			wantPod: "pod1", wantSA: "ai-svc", wantVol6: pod1Volume},
		{name: "generated name and the default service account", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-7c9f8d5b6-"}},
			wantPod: "web-7c9f8d5b6- (prefix)", wantSA: "default", wantVol6: generatedVolume},
		{name: "name wins over generateName", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod1", GenerateName: "web-"}},
			wantPod: "pod1", wantSA: "default", wantVol6: pod1Volume},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := podName(&tt.pod); got != tt.wantPod {
				t.Errorf("podName() = %q, want %q", got, tt.wantPod)
			}
			if got := serviceAccountName(&tt.pod); got != tt.wantSA {
				t.Errorf("serviceAccountName() = %q, want %q", got, tt.wantSA)
			}
			if got := LayoutV16.VolumeName(podName(&tt.pod)); got != tt.wantVol6 || len(got) != 63 {
				t.Errorf("VolumeName() = %q (%d chars), want %q (63 chars)", got, len(got), tt.wantVol6)
			}
			if got := LayoutV15.VolumeName(podName(&tt.pod)); got != "azure-identity-token" {
				t.Errorf("v1.5 VolumeName() = %q, want azure-identity-token", got)
			}
		})
	}
}

func TestAddEnv(t *testing.T) {
	t.Parallel()
	want := []corev1.EnvVar{env("A", "1"), env("B", ""), env("C", "3")}
	tests := []struct {
		name string
		env  []corev1.EnvVar
		want []corev1.EnvVar
	}{
		{name: "none defined: all non-empty appended in order", want: []corev1.EnvVar{env("A", "1"), env("C", "3")}},
		{name: "defined names kept with their values", env: []corev1.EnvVar{env("C", "mine")}, want: []corev1.EnvVar{env("C", "mine"), env("A", "1")}},
		{name: "a name defined with an empty value still counts", env: []corev1.EnvVar{env("A", "")}, want: []corev1.EnvVar{env("A", ""), env("C", "3")}},
		{name: "all defined: unchanged", env: []corev1.EnvVar{env("A", "x"), env("B", "y"), env("C", "z")}, want: []corev1.EnvVar{env("A", "x"), env("B", "y"), env("C", "z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, addEnv(tt.env, want)); diff != "" {
				t.Errorf("addEnv() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetVolumeMountAndVolume(t *testing.T) {
	t.Parallel()
	m := roMount("tok", "/var/run/secrets/azure/wi")
	mountTests := []struct {
		name   string
		mounts []corev1.VolumeMount
		want   []corev1.VolumeMount
	}{
		{name: "appended", mounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}, want: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, m}},
		{name: "same name replaced in place", mounts: []corev1.VolumeMount{{Name: "tok", MountPath: "/x", SubPath: "s"}, {Name: "data", MountPath: "/data"}},
			want: []corev1.VolumeMount{m, {Name: "data", MountPath: "/data"}}},
		{name: "same path other name: appended (names are the key)", mounts: []corev1.VolumeMount{{Name: "other", MountPath: "/var/run/secrets/azure/wi"}},
			want: []corev1.VolumeMount{{Name: "other", MountPath: "/var/run/secrets/azure/wi"}, m}},
	}
	for _, tt := range mountTests {
		t.Run("mount "+tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, setVolumeMount(tt.mounts, m)); diff != "" {
				t.Errorf("setVolumeMount() (-want +got):\n%s", diff)
			}
		})
	}
	v := tokenVolume("tok", "token/azure-identity-token", 3600, DefaultAudience)
	empty := corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	data := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	volumeTests := []struct {
		name    string
		volumes []corev1.Volume
		want    []corev1.Volume
	}{
		{name: "appended to none", want: []corev1.Volume{v}},
		{name: "appended after others", volumes: []corev1.Volume{data}, want: []corev1.Volume{data, v}},
		{name: "same name replaced in place", volumes: []corev1.Volume{empty, data}, want: []corev1.Volume{v, data}},
	}
	for _, tt := range volumeTests {
		t.Run("volume "+tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, setVolume(tt.volumes, v)); diff != "" {
				t.Errorf("setVolume() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		in            string
		want          Layout
		wantMount     string
		wantTokenFile string
		wantErr       bool
	}{
		{name: "v1.6", in: "v1.6", want: LayoutV16, wantMount: "/var/run/secrets/azure/wi", wantTokenFile: v16TokenFile},
		{name: "v1.5", in: "v1.5", want: LayoutV15, wantMount: "/var/run/secrets/azure/tokens", wantTokenFile: v15TokenFile},
		{name: "empty is refused by the parser", in: "", wantErr: true},
		{name: "other versions refused", in: "v1.4", wantErr: true},
		{name: "no leading v refused", in: "1.6", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLayout(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseLayout(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.MountPath() != tt.wantMount || got.TokenFile() != tt.wantTokenFile {
				t.Errorf("MountPath() = %q, TokenFile() = %q; want %q, %q", got.MountPath(), got.TokenFile(), tt.wantMount, tt.wantTokenFile)
			}
		})
	}
	var zero Layout
	if zero.TokenFile() != v16TokenFile {
		t.Errorf("the zero Layout's TokenFile() = %q, want the v1.6 %q", zero.TokenFile(), v16TokenFile)
	}
}

func TestAuthorityHost(t *testing.T) {
	t.Parallel()
	envTests := []struct {
		name    string
		env     string
		want    string
		wantErr bool
	}{
		{name: "empty is the public cloud", env: "", want: "https://login.microsoftonline.com/"},
		{name: "public cloud", env: "AzurePublicCloud", want: "https://login.microsoftonline.com/"},
		{name: "names match case-insensitively", env: "azurepubliccloud", want: "https://login.microsoftonline.com/"},
		{name: "US government", env: "AzureUSGovernmentCloud", want: "https://login.microsoftonline.us/"},
		{name: "China", env: "AzureChinaCloud", want: "https://login.chinacloudapi.cn/"},
		{name: "Germany", env: "AzureGermanCloud", want: "https://login.microsoftonline.de/"},
		{name: "unknown cloud", env: "AzureStackCloud", wantErr: true},
	}
	for _, tt := range envTests {
		t.Run("environment "+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := AuthorityHostFor(tt.env)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("AuthorityHostFor(%q) = %q, %v; want %q, error %v", tt.env, got, err, tt.want, tt.wantErr)
			}
		})
	}
	hostTests := []struct {
		name    string
		host    string
		want    string
		wantErr bool
	}{
		{name: "kept with its trailing slash", host: "https://fedcred.example.com/", want: "https://fedcred.example.com/"},
		{name: "trailing slash added", host: "https://fedcred.example.com:8443", want: "https://fedcred.example.com:8443/"},
		{name: "path kept", host: "https://gw.example.com/fedcred", want: "https://gw.example.com/fedcred/"},
		{name: "http refused", host: "http://fedcred.example.com/", wantErr: true},
		{name: "relative refused", host: "fedcred.example.com", wantErr: true},
		{name: "query refused", host: "https://fedcred.example.com/?x=1", wantErr: true},
		{name: "empty query refused", host: "https://fedcred.example.com/?", wantErr: true},
		{name: "fragment refused", host: "https://fedcred.example.com/#f", wantErr: true},
		{name: "user info refused", host: "https://u:p@fedcred.example.com/", wantErr: true},
	}
	for _, tt := range hostTests {
		t.Run("host "+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeAuthorityHost(tt.host)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("NormalizeAuthorityHost(%q) = %q, %v; want %q, error %v", tt.host, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestResolveAuthorityHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		host        string
		environment string
		want        string
		wantErr     string
	}{
		{name: "neither: the public cloud", want: "https://login.microsoftonline.com/"},
		{name: "an environment", environment: "AzureChinaCloud", want: "https://login.chinacloudapi.cn/"},
		{name: "a fedcred server", host: "https://fedcred.example.com", want: "https://fedcred.example.com/"},
		{name: "both refused", host: "https://fedcred.example.com/", environment: "AzurePublicCloud", wantErr: "exclude each other"},
		{name: "an unknown environment refused", environment: "Mars", wantErr: "unknown azure environment"},
		{name: "an http host refused", host: "http://fedcred.example.com/", wantErr: "not an absolute https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ResolveAuthorityHost(tt.host, tt.environment)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveAuthorityHost() = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ResolveAuthorityHost() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
