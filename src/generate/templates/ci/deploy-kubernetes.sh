# Deploys the {{ environment }} overlay ({{ overlay }}) to its cluster: this commit's images,
# applied server-side, then waits for every Deployment to roll out.
# kubectl and kustomize are the ones GitHub's ubuntu runner images ship: nothing is downloaded here.
# KUBE_CONFIG is the environment's kubeconfig, base64-encoded (one line, which GitHub masks whole in
# logs); it only ever exists in the runner's temp dir, mode 600, and is removed when this step ends.
umask 077
export KUBECONFIG="$RUNNER_TEMP/kubeconfig"
trap 'rm -f "$KUBECONFIG"' EXIT
if [ -z "$KUBE_CONFIG" ]; then
  echo "::error::The {{ environment }} environment has no KUBE_CONFIG secret" >&2
  exit 1
fi
if ! printf '%s' "$KUBE_CONFIG" | base64 --decode > "$KUBECONFIG" 2> /dev/null; then
  echo "::error::KUBE_CONFIG is not base64: set it with base64 -w0 kubeconfig | gh secret set KUBE_CONFIG --env {{ environment }}" >&2
  exit 1
fi
chmod 600 "$KUBECONFIG"
# The overlay pins `latest`; the cluster runs exactly the images built for this commit.
(cd {{ overlay }} && kustomize edit set image{% for image in images %} {{ image }}={{ image }}:"$IMAGE_TAG"{% endfor %})
# Server-side apply: no last-applied annotation (large ConfigMaps such as dashboards would
# overflow it), and fields are owned per manager; the rendered files win over hand edits.
# Objects removed from the blueprint are not pruned: delete them by hand.
kubectl apply --server-side --field-manager=blueprint --force-conflicts -k {{ overlay }}
{% for deployment in deployments -%}
kubectl rollout status deployment/{{ deployment }}{{ namespace }} --timeout=300s
{% endfor -%}
