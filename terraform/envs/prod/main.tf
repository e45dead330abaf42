# Production: NAT gateway per zone, multi-AZ database with deletion
# protection and two weeks of backups, private API endpoint only.

provider "aws" {
  region = "ap-northeast-2"
  default_tags {
    tags = { Project = "weasel", Environment = "prod", ManagedBy = "terraform" }
  }
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = { Project = "weasel", Environment = "prod", ManagedBy = "terraform" }
  }
}

variable "admin_role_arns" {
  description = "Cluster administrators."
  type        = list(string)
}

variable "viewer_role_arns" {
  description = "Developers who may read the weasel namespace."
  type        = list(string)
  default     = []
}

variable "external_secrets_role_arns" {
  description = "External Secrets Operator roles."
  type        = list(string)
  default     = []
}

variable "zone_id" {
  description = "Route53 zone of example.com."
  type        = string
}

variable "alb_dns_name" {
  description = "ALB of the prod Ingress (after the first deploy)."
  type        = string
  default     = ""
}

variable "alb_zone_id" {
  description = "Its hosted zone id."
  type        = string
  default     = ""
}

module "weasel" {
  source    = "../../modules/stack"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  name                        = "weasel-prod"
  namespace                   = "weasel"
  azs                         = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
  vpc_cidr                    = "10.20.0.0/16"
  enable_nat_instance         = false
  kubernetes_version          = "1.35"
  endpoint_public_access      = false
  admin_role_arns             = var.admin_role_arns
  viewer_role_arns            = var.viewer_role_arns
  external_secrets_role_arns  = var.external_secrets_role_arns
  db_instance_class           = "db.m7g.large"
  db_multi_az                 = true
  db_deletion_protection      = true
  db_backup_retention_days    = 14
  domain_name                 = "weasel.example.com"
  zone_id                     = var.zone_id
  alb_dns_name                = var.alb_dns_name
  alb_zone_id                 = var.alb_zone_id
  github_repository           = "weasel-tutor/weasel"
  create_github_oidc_provider = false
  # Global cross-Region inference profiles (docs/deploy.md): the profile in
  # the calling region, and the model in every region it may route to,
  # including the region-less ARN global routing uses.
  bedrock_resource_arns = [
    "arn:aws:bedrock:ap-northeast-2:*:inference-profile/global.anthropic.claude-sonnet-4-6",
    "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6",
    "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-6",
    "arn:aws:bedrock:ap-northeast-2:*:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0",
    "arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
    "arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
  ]
}

output "weasel" {
  description = "Everything the deploy guide needs (docs/deploy.md)."
  value       = module.weasel
}
