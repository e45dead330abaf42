# The app's AWS identity: it may stream answers from the configured Bedrock
# models and keep photos under its prefix of the image bucket, nothing else. Assumable by the `weasel` service account through
# EKS Pod Identity (the association below) or IRSA (the OIDC condition).

variable "name" {
  description = "Role name."
  type        = string
}

variable "cluster_name" {
  description = "Cluster whose pods assume the role."
  type        = string
}

variable "namespace" {
  description = "Namespace of the app's service account."
  type        = string
}

variable "service_account" {
  description = "The app's service account."
  type        = string
  default     = "weasel"
}

variable "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider (IRSA)."
  type        = string
}

variable "oidc_issuer" {
  description = "The cluster's OIDC issuer without https://."
  type        = string
}

variable "bedrock_resource_arns" {
  description = "Foundation-model and inference-profile ARNs the app may invoke. A cross-region inference profile needs its own ARN and the model's ARN in every region it routes to."
  type        = list(string)
  validation {
    condition     = length(var.bedrock_resource_arns) > 0 && alltrue([for arn in var.bedrock_resource_arns : can(regex("^arn:aws[a-z-]*:bedrock:", arn))])
    error_message = "List Bedrock ARNs only; the app must not be allowed every model."
  }
}

variable "image_bucket_arn" {
  description = "The image bucket (modules/images)."
  type        = string
}

variable "image_prefix" {
  description = "The only key prefix the app may touch in it."
  type        = string
  default     = "images/"
}

variable "kms_key_arn" {
  description = "The key the image bucket encrypts with."
  type        = string
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "PodIdentity"
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
  statement {
    sid     = "Irsa"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

data "aws_iam_policy_document" "bedrock" {
  statement {
    sid       = "StreamAnswers"
    actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    resources = var.bedrock_resource_arns
  }
  # The startup check asks whether the configured models still exist and
  # when they reach end of life; it reads, never invokes.
  statement {
    sid       = "CheckModels"
    actions   = ["bedrock:GetInferenceProfile", "bedrock:GetFoundationModel", "bedrock:GetFoundationModelAvailability"]
    resources = var.bedrock_resource_arns
  }
}

resource "aws_iam_role_policy" "bedrock" {
  name   = "bedrock-invoke"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.bedrock.json
}

data "aws_iam_policy_document" "images" {
  statement {
    sid       = "ImagesUnderPrefix"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.image_bucket_arn}/${var.image_prefix}*"]
  }
  statement {
    sid       = "ImagesKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "images" {
  name   = "images"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.images.json
}

resource "aws_eks_pod_identity_association" "app" {
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.app.arn
}

output "role_arn" {
  description = "Goes into the service account's eks.amazonaws.com/role-arn annotation (IRSA)."
  value       = aws_iam_role.app.arn
}
