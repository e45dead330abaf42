output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this>"
  value       = module.eks.cluster_name
}

output "ecr_repository_url" {
  description = "Image repository (k8s overlays' newName)."
  value       = module.ecr.repository_url
}

output "app_role_arn" {
  description = "The weasel service account's role."
  value       = module.app_iam.role_arn
}

output "alb_web_acl_arn" {
  description = "For the Ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn."
  value       = module.waf_regional.arn
}

output "database_endpoint" {
  description = "host:port for DATABASE_URL."
  value       = module.rds.endpoint
}

output "database_master_secret_arn" {
  description = "Where RDS keeps the master password."
  value       = module.rds.master_user_secret_arn
}

output "app_secret_arn" {
  description = "Put DATABASE_URL, WEASEL_SESSION_KEY, WEASEL_SMTP_URL and OAuth secrets here."
  value       = module.secrets.arn
}

output "cloudfront_distribution_id" {
  description = "CI invalidates /pkg/* here after a deploy."
  value       = module.edge.distribution_id
}

output "ci_role_arn" {
  description = "AWS_ROLE_ARN for GitHub Actions / Jenkins."
  value       = module.ci.role_arn
}

output "karpenter_node_role_name" {
  description = "For k8s/cluster/karpenter.yaml."
  value       = module.eks.karpenter_node_role_name
}

output "karpenter_queue_name" {
  description = "Karpenter's interruption queue setting."
  value       = module.eks.karpenter_queue_name
}

output "image_bucket" {
  description = "WEASEL_S3_BUCKET in the k8s overlay."
  value       = module.images.bucket
}
