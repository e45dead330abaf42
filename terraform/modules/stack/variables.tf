variable "name" {
  description = "Environment name, used as the prefix of every resource (weasel-dev, weasel-prod)."
  type        = string
}

variable "azs" {
  description = "Three availability zones."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "VPC address range."
  type        = string
}

variable "enable_nat_instance" {
  description = "NAT instance instead of NAT gateways (cheaper, not highly available)."
  type        = bool
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones instead of one each."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS version."
  type        = string
}

variable "endpoint_public_access" {
  description = "Public EKS API endpoint (restricted to public_access_cidrs)."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "Who may reach a public API endpoint."
  type        = list(string)
  default     = []
}

variable "admin_role_arns" {
  description = "Cluster administrators."
  type        = list(string)
}

variable "viewer_role_arns" {
  description = "Read-only users of the app namespace."
  type        = list(string)
  default     = []
}

variable "namespace" {
  description = "Kubernetes namespace of the app (k8s/overlays/*)."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance size."
  type        = string
}

variable "db_multi_az" {
  description = "RDS standby in a second zone."
  type        = bool
}

variable "db_deletion_protection" {
  description = "Protect the database from deletion (and keep a final snapshot)."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "Automated backup retention."
  type        = number
}

variable "bedrock_resource_arns" {
  description = "Bedrock models and inference profiles the app may invoke."
  type        = list(string)
}

variable "domain_name" {
  description = "The site's host name."
  type        = string
}

variable "zone_id" {
  description = "Route53 hosted zone of domain_name."
  type        = string
}

variable "alb_dns_name" {
  description = "ALB created by the Ingress (set after the first deploy)."
  type        = string
  default     = ""
}

variable "alb_zone_id" {
  description = "Hosted zone of that ALB."
  type        = string
  default     = ""
}

variable "rate_limit_per_5_minutes" {
  description = "WAF per-IP limit."
  type        = number
  default     = 2000
}

variable "ecr_keep_images" {
  description = "Images kept in ECR."
  type        = number
  default     = 30
}

variable "github_repository" {
  description = "owner/name allowed to deploy through GitHub OIDC."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account-wide GitHub OIDC provider here."
  type        = bool
}

variable "external_secrets_role_arns" {
  description = "Roles of the External Secrets Operator that read the app secret."
  type        = list(string)
  default     = []
}
