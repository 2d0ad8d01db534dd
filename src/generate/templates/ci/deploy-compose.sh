# Deploys the {{ environment }} stack to its Docker host over SSH: ship the rendered Compose file
# and the configuration it mounts, then pull this commit's images and recreate what changed.
# What is not generated stays on the host: .env.{{ environment }} (the secrets){% if htpasswd %} and {{ htpasswd }}{% endif %}.
# Everything comes from `env:`; the SSH key and known_hosts only ever touch the runner's temp dir.
umask 077
ssh_dir="$RUNNER_TEMP/deploy-ssh"
mkdir -p "$ssh_dir"
printf '%s\n' "$DEPLOY_SSH_KEY" > "$ssh_dir/id"
printf '%s\n' "$DEPLOY_KNOWN_HOSTS" > "$ssh_dir/known_hosts"
remote() {
  ssh -i "$ssh_dir/id" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$ssh_dir/known_hosts" \
    "$DEPLOY_USER@$DEPLOY_HOST" "$@"
}
tar -czf - {{ paths }} | remote "mkdir -p {{ directory }} && tar -xzf - -C {{ directory }}"
# The job's short-lived registry credential lets the host pull, and is removed afterwards.
printf '%s' "$REGISTRY_PASSWORD" | remote "docker login {{ registry }} --username '$REGISTRY_USERNAME' --password-stdin"
trap 'remote "docker logout {{ registry }}" > /dev/null || true' EXIT
# TAG from the shell wins over the env file: the host runs exactly the images built for this commit.
{% if local_builds %}
# Images only the host builds (`pull_policy: build`; `up --no-build` would never build them):
# built first from their shipped context, on a freshly pulled base image.
remote "cd {{ directory }} && docker compose {{ compose }} build --pull {{ local_builds }}"
{% endif %}
remote "cd {{ directory }} && export TAG=$IMAGE_TAG && docker compose {{ compose }} pull && docker compose {{ compose }} up --detach --no-build --remove-orphans --wait --wait-timeout 300"
