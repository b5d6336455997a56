#!/usr/bin/env bash
# npm run package: builds the function and packages the stack for each stage into .serverless-<stage>/
# (CloudFormation templates and the zip), and production with every option set into
# .serverless-production-options/, offline: dummy credentials, no metadata lookups, no account
# lookups. Then lints every template with cfn-lint, which must report nothing at all (cfn-lint from
# the PATH, or installed by scripts/python-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tools_path=$(bash scripts/python-tools.sh)
[[ -z $tools_path ]] || export PATH="$tools_path:$PATH"

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

# Production again with every option an operator may set: challenges behind CloudFront, a reserved
# instance, the twice-daily check, fan-out for every run with the largest workers, and the bucket
# and key a removed stack kept (docs/deploy.md).
options=(
  --param=challengeServing=cloudfront
  --param=reservedConcurrency=1
  --param=checkFrequency=twice-daily
  --param=fanOut=always
  --param=workerConcurrency=16
  --param=workerBatchSize=10
  --param=workerTimeout=900
  --param=existingCertificatesBucket=true
  --param=existingStorageKeyArn=arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000
)
rm -rf .serverless-production-options
npx --no-install serverless package --stage production --package .serverless-production-options "${options[@]}"
templates+=(".serverless-production-options/cloudformation-template-update-stack.json")

echo "cfn-lint: ${templates[*]}"
cfn-lint --format parseable -- "${templates[@]}"
echo "cfn-lint: no errors, no warnings"
