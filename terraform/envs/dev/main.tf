# Development: the cheap switches on (NAT instance, single-AZ small
# database, no deletion protection), public API endpoint for the office.

provider "aws" {
  region = "ap-northeast-2"
  default_tags {
    tags = { Project = "weasel", Environment = "dev", ManagedBy = "terraform" }
  }
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = { Project = "weasel", Environment = "dev", ManagedBy = "terraform" }
  }
}

variable "admin_role_arns" {
  description = "Cluster administrators (SSO roles of the platform team, the CI deployer)."
  type        = list(string)
}

variable "office_cidrs" {
  description = "Addresses that may reach the dev cluster's API endpoint."
  type        = list(string)
}

variable "zone_id" {
  description = "Route53 zone of example.com."
  type        = string
}

module "weasel" {
  source    = "../../modules/stack"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  name                        = "weasel-dev"
  namespace                   = "weasel-dev"
  azs                         = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
  vpc_cidr                    = "10.10.0.0/16"
  enable_nat_instance         = true
  kubernetes_version          = "1.35"
  endpoint_public_access      = true
  public_access_cidrs         = var.office_cidrs
  admin_role_arns             = var.admin_role_arns
  db_instance_class           = "db.t4g.micro"
  db_multi_az                 = false
  db_deletion_protection      = false
  db_backup_retention_days    = 1
  domain_name                 = "dev.weasel.example.com"
  zone_id                     = var.zone_id
  rate_limit_per_5_minutes    = 1000
  ecr_keep_images             = 10
  github_repository           = "weasel-tutor/weasel"
  create_github_oidc_provider = true
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
