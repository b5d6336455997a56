#!/usr/bin/env bash
# npm run package: builds the function and packages the stack for each stage into .serverless-<stage>/
# (CloudFormation templates and the zip), offline: dummy credentials, no metadata lookups, no account
# lookups. Then lints every template with cfn-lint, which must report nothing at all.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline AWS_SESSION_TOKEN= AWS_PROFILE=
export AWS_EC2_METADATA_DISABLED=true SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
unset AWS_ENDPOINT_URL

stages=(production staging local)
templates=()
for stage in "${stages[@]}"; do
  rm -rf ".serverless-$stage"
  npx --no-install serverless package --stage "$stage" --package ".serverless-$stage"
  templates+=(".serverless-$stage/cloudformation-template-update-stack.json")
done

echo "cfn-lint: ${templates[*]}"
cfn-lint --format parseable -- "${templates[@]}"
echo "cfn-lint: no errors, no warnings"
