# The app's secret: one JSON document in Secrets Manager whose keys are the
# environment variables (DATABASE_URL, WEASEL_SESSION_KEY, WEASEL_SMTP_URL and the OAuth
# client ids and secrets). Terraform creates the secret, never its value:
# values are put with `aws secretsmanager put-secret-value` (docs/deploy.md),
# so they never enter the Terraform state. The External Secrets Operator
# copies it into the cluster (k8s/base/externalsecret.yaml).

variable "name" {
  description = "Secret name, e.g. weasel/app."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the secret."
  type        = string
}

variable "reader_role_arns" {
  description = "Roles allowed to read the secret (the External Secrets Operator's)."
  type        = list(string)
  default     = []
}

resource "aws_secretsmanager_secret" "app" {
  # checkov:skip=CKV2_AWS_57:the session key is rotated by hand (rotation signs every student out); OAuth secrets rotate at the providers
  name                    = var.name
  description             = "Weasel application settings that are secret"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

data "aws_iam_policy_document" "read" {
  count = length(var.reader_role_arns) > 0 ? 1 : 0
  statement {
    sid       = "ReadForTheCluster"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = var.reader_role_arns
    }
  }
}

resource "aws_secretsmanager_secret_policy" "app" {
  count      = length(var.reader_role_arns) > 0 ? 1 : 0
  secret_arn = aws_secretsmanager_secret.app.arn
  policy     = data.aws_iam_policy_document.read[0].json
}

output "arn" {
  description = "The secret."
  value       = aws_secretsmanager_secret.app.arn
}
