// Command render writes the install manifest, examples/render/proxyctl.yaml,
// from the CRDs and the manifests under examples/.
//
// It writes the CRDs of examples/crds and the manifests of examples/proxyctl,
// in file order, as one file that `kubectl apply -f` installs, with every
// proxyctl image set to --image.
//
// The sources are copied as text, comments included (they explain each
// object), so the output depends only on them and the flags: `make render`
// twice gives the same bytes, and test/examples checks the committed file
// is what it would write.
package main
