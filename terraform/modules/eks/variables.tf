variable "name" {
  description = "Cluster name."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (the manifests are validated against the same one)."
  type        = string
  default     = "1.35"
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets for the control plane's network interfaces and the nodes."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key that encrypts Kubernetes Secrets and the control-plane logs."
  type        = string
}

variable "endpoint_public_access" {
  description = "Whether the API server is reachable from the internet (from public_access_cidrs only). Off: reach it through the VPC (VPN, bastion, CI runner inside)."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "Who may reach a public API endpoint."
  type        = list(string)
  default     = []
}

variable "admin_role_arns" {
  description = "IAM roles given cluster-admin through access entries (the platform team, the CI deployer)."
  type        = list(string)
  default     = []
}

variable "viewer_role_arns" {
  description = "IAM roles that may only read the app's namespaces."
  type        = list(string)
  default     = []
}

variable "app_namespaces" {
  description = "Namespaces viewers may read."
  type        = list(string)
  default     = ["weasel"]
}

variable "system_node_instance_types" {
  description = "Instance types of the small managed node group that runs Karpenter and cluster add-ons."
  type        = list(string)
  default     = ["t3.medium"]
}

variable "log_retention_days" {
  description = "How long control-plane logs are kept."
  type        = number
  default     = 365
}
