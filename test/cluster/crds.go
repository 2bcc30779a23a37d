package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs applies every *.yaml file of dir (server-side, so that large
// CRDs do not hit the size limit of the last-applied annotation) and waits
// until each CustomResourceDefinition among the applied objects is
// Established and each of its served versions is in discovery.
func (c *Cluster) InstallCRDs(dir string) error {
	files, err := crdFiles(dir)
	if err != nil {
		return err
	}
	args := []string{"apply", "--server-side", "--force-conflicts", "--field-manager=" + UserAgent, "-o", "name"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	out, err := c.Kubectl(args...)
	if err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	var names []string
	for line := range strings.Lines(out) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "customresourcedefinition.apiextensions.k8s.io/"); ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("install CRDs: %s holds no CustomResourceDefinition", dir)
	}
	client, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := c.waitForCRD(client, name); err != nil {
			return err
		}
	}
	return nil
}

// crdFiles returns the *.yaml files of dir; there must be one at least.
func crdFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml CRD manifests in %s (start with WithoutCRDs to install none)", dir)
	}
	return files, nil
}

// waitForCRD waits until the CRD called name is Established and its served
// versions are in discovery.
func (c *Cluster) waitForCRD(client dynamic.Interface, name string) error {
	var crd *unstructured.Unstructured
	err := poll(c.opts.StartTimeout, nil, "CRD "+name+" to be established", func(ctx context.Context) (bool, error) {
		obj, err := client.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		crd = obj
		return crdEstablished(obj), nil
	})
	if err != nil {
		return err
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	for _, version := range servedVersions(crd) {
		gv := group + "/" + version
		err := poll(c.opts.StartTimeout, nil, plural+" "+gv+" to appear in discovery", func(context.Context) (bool, error) {
			list, err := c.Client.Discovery().ServerResourcesForGroupVersion(gv)
			if err != nil {
				return false, err // 404 until the group version is served
			}
			return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == plural }), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if cond["type"] == "Established" && cond["status"] == "True" {
			return true
		}
	}
	return false
}

func servedVersions(crd *unstructured.Unstructured) []string {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var served []string
	for _, v := range versions {
		version, _ := v.(map[string]any)
		if name, ok := version["name"].(string); ok && version["served"] == true {
			served = append(served, name)
		}
	}
	return served
}
