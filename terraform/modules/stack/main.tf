# One environment of Weasel on AWS, put together from the modules beside
# this one. envs/dev and envs/prod differ only in the values they pass.

data "aws_caller_identity" "current" {}

# One key for this environment's data at rest: Secrets, logs, database, images.
resource "aws_kms_key" "this" {
  description             = "${var.name} data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "logs.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      },
    ]
  })
}

# The CloudFront web ACL logs in us-east-1, where a key of its own is needed.
resource "aws_kms_key" "us_east_1" {
  provider                = aws.us_east_1
  description             = "${var.name} edge logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = aws_kms_key.this.policy
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

module "network" {
  source              = "../network"
  name                = var.name
  cidr                = var.vpc_cidr
  azs                 = var.azs
  enable_nat_instance = var.enable_nat_instance
  single_nat_gateway  = var.single_nat_gateway
  cluster_name        = var.name
  kms_key_arn         = aws_kms_key.this.arn
}

module "eks" {
  source                 = "../eks"
  name                   = var.name
  kubernetes_version     = var.kubernetes_version
  vpc_id                 = module.network.vpc_id
  private_subnet_ids     = module.network.private_subnet_ids
  kms_key_arn            = aws_kms_key.this.arn
  endpoint_public_access = var.endpoint_public_access
  public_access_cidrs    = var.public_access_cidrs
  admin_role_arns        = var.admin_role_arns
  viewer_role_arns       = var.viewer_role_arns
  app_namespaces         = [var.namespace]
}

module "ecr" {
  source      = "../ecr"
  name        = var.name
  kms_key_arn = aws_kms_key.this.arn
  keep_images = var.ecr_keep_images
}

module "rds" {
  source                     = "../rds"
  name                       = var.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  kms_key_arn                = aws_kms_key.this.arn
  instance_class             = var.db_instance_class
  multi_az                   = var.db_multi_az
  deletion_protection        = var.db_deletion_protection
  backup_retention_days      = var.db_backup_retention_days
}

module "secrets" {
  source           = "../secrets"
  name             = "${var.name}/app"
  kms_key_arn      = aws_kms_key.this.arn
  reader_role_arns = var.external_secrets_role_arns
}

module "images" {
  source      = "../images"
  name        = var.name
  kms_key_arn = aws_kms_key.this.arn
}

module "app_iam" {
  source                = "../app-iam"
  name                  = "${var.name}-app"
  cluster_name          = module.eks.cluster_name
  namespace             = var.namespace
  oidc_provider_arn     = module.eks.oidc_provider_arn
  oidc_issuer           = module.eks.oidc_issuer
  bedrock_resource_arns = var.bedrock_resource_arns
  image_bucket_arn      = module.images.bucket_arn
  image_prefix          = module.images.prefix
  kms_key_arn           = aws_kms_key.this.arn
}

module "waf_regional" {
  source                   = "../waf"
  name                     = "${var.name}-alb"
  scope                    = "REGIONAL"
  rate_limit_per_5_minutes = var.rate_limit_per_5_minutes
  kms_key_arn              = aws_kms_key.this.arn
}

# CloudFront web ACLs live in us-east-1, and so does their log group.
module "waf_cloudfront" {
  source                   = "../waf"
  providers                = { aws = aws.us_east_1 }
  name                     = "${var.name}-cdn"
  scope                    = "CLOUDFRONT"
  rate_limit_per_5_minutes = var.rate_limit_per_5_minutes
  kms_key_arn              = aws_kms_key.us_east_1.arn
}

module "edge" {
  source             = "../edge"
  providers          = { aws = aws, aws.us_east_1 = aws.us_east_1 }
  name               = var.name
  domain_name        = var.domain_name
  origin_domain_name = "origin.${var.domain_name}"
  zone_id            = var.zone_id
  alb_dns_name       = var.alb_dns_name
  alb_zone_id        = var.alb_zone_id
  web_acl_arn        = module.waf_cloudfront.arn
}

module "ci" {
  source               = "../ci"
  name                 = "${var.name}-ci"
  github_repository    = var.github_repository
  create_oidc_provider = var.create_github_oidc_provider
  ecr_repository_arn   = module.ecr.repository_arn
  distribution_arn     = module.edge.distribution_arn
}
