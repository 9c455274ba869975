package webhook

import (
	"encoding/json"
	"fmt"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// podPatch returns the RFC 6902 JSON patch that turns original into
// mutated, or nil when they are equal. Both sides are the typed pod, not the
// raw request: the patch then holds only the mutation, and fields of the
// API server's pod that this build's k8s.io/api does not know are never
// touched (a diff against the raw object would remove them).
func podPatch(original, mutated *corev1.Pod) ([]byte, error) {
	before, err := json.Marshal(original)
	if err != nil {
		return nil, fmt.Errorf("encode pod: %w", err)
	}
	after, err := json.Marshal(mutated)
	if err != nil {
		return nil, fmt.Errorf("encode mutated pod: %w", err)
	}
	ops, err := jsonpatch.CreatePatch(before, after)
	if err != nil {
		return nil, fmt.Errorf("diff pod: %w", err)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encode patch: %w", err)
	}
	return patch, nil
}
