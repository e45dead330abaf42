# The EKS cluster: private API endpoint by default, Secrets encrypted with
# KMS, all control-plane logs, access entries (API authentication mode, no
# aws-auth ConfigMap) so only the named roles administer it, managed add-ons,
# and a small managed node group for Karpenter; Karpenter adds the rest.

data "aws_partition" "current" {}

locals {
  aws_policy = "arn:${data.aws_partition.current.partition}:iam::aws:policy"
  # What every node needs: join the cluster, pod networking, pull images, Session Manager.
  node_policies = [for p in ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"] : "${local.aws_policy}/${p}"]
}

module "cluster_role" {
  source              = "../service-role"
  name                = "${var.name}-eks-cluster"
  service             = "eks.amazonaws.com"
  tag_session         = true
  managed_policy_arns = ["${local.aws_policy}/AmazonEKSClusterPolicy"]
}

resource "aws_cloudwatch_log_group" "cluster" {
  # The name EKS writes to; created here to set retention and encryption.
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_eks_cluster" "this" {
  # checkov:skip=CKV_AWS_39:the public endpoint is a per-environment switch, off by default and off in prod
  # checkov:skip=CKV_AWS_38:when on (dev), it is limited to public_access_cidrs, the office addresses
  name     = var.name
  version  = var.kubernetes_version
  role_arn = module.cluster_role.arn

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = false
  }

  vpc_config {
    subnet_ids              = var.private_subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    public_access_cidrs     = var.endpoint_public_access ? var.public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = var.kms_key_arn
    }
  }

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  depends_on = [module.cluster_role, aws_cloudwatch_log_group.cluster]
}

# IRSA: service accounts can assume IAM roles through the cluster's OIDC issuer.
data "tls_certificate" "oidc" {
  url = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

resource "aws_iam_openid_connect_provider" "this" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.oidc.certificates[0].sha1_fingerprint]
}

resource "aws_eks_addon" "this" {
  for_each                    = toset(["vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"])
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  resolve_conflicts_on_update = "OVERWRITE"
  depends_on                  = [aws_eks_node_group.system]
}

# Who may use the cluster, and how far: administrators everywhere, viewers
# read-only in the app's namespaces. An ARN in both lists stays an administrator.
locals {
  access = merge(
    { for arn in var.viewer_role_arns : arn => { policy = "AmazonEKSViewPolicy", scope = "namespace" } },
    { for arn in var.admin_role_arns : arn => { policy = "AmazonEKSClusterAdminPolicy", scope = "cluster" } },
  )
}

resource "aws_eks_access_entry" "this" {
  for_each      = local.access
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.key
}

resource "aws_eks_access_policy_association" "this" {
  for_each      = local.access
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.key
  policy_arn    = "arn:${data.aws_partition.current.partition}:eks::aws:cluster-access-policy/${each.value.policy}"
  access_scope {
    type       = each.value.scope
    namespaces = each.value.scope == "namespace" ? var.app_namespaces : null
  }
  depends_on = [aws_eks_access_entry.this]
}

module "node_role" {
  source              = "../service-role"
  name                = "${var.name}-system-node"
  service             = "ec2.amazonaws.com"
  managed_policy_arns = local.node_policies
}

resource "aws_launch_template" "system" {
  name_prefix = "${var.name}-system-"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 30
      volume_type = "gp3"
      encrypted   = true
    }
  }
}

# On-demand: Karpenter itself must not run on spot capacity it manages.
resource "aws_eks_node_group" "system" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "system"
  node_role_arn   = module.node_role.arn
  subnet_ids      = var.private_subnet_ids
  instance_types  = var.system_node_instance_types
  capacity_type   = "ON_DEMAND"
  ami_type        = "AL2023_x86_64_STANDARD"

  launch_template {
    id      = aws_launch_template.system.id
    version = aws_launch_template.system.latest_version
  }

  scaling_config {
    desired_size = 2
    min_size     = 2
    max_size     = 3
  }

  labels = { role = "system" }

  taint {
    key    = "CriticalAddonsOnly"
    value  = "true"
    effect = "NO_SCHEDULE"
  }

  depends_on = [module.node_role]
}
