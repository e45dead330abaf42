output "cluster_name" {
  description = "The cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "API server URL."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_security_group_id" {
  description = "Security group EKS gives the control plane and managed nodes."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "oidc_provider_arn" {
  description = "For IRSA trust policies."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer" {
  description = "Issuer URL without the scheme, for IRSA conditions."
  value       = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
}

output "karpenter_node_role_name" {
  description = "Role named in the EC2NodeClass (k8s/cluster/karpenter.yaml)."
  value       = module.karpenter_node_role.name
}

output "karpenter_queue_name" {
  description = "Interruption queue for Karpenter's settings."
  value       = aws_sqs_queue.karpenter.name
}
