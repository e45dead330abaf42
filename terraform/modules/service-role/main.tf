# An IAM role that one AWS service assumes, with its managed policies: the
# shape every service role here has (flow logs, RDS monitoring, EKS, nodes,
# the NAT instance, Karpenter's controller through Pod Identity).

variable "name" {
  description = "Role name."
  type        = string
}

variable "service" {
  description = "The service principal that assumes it, e.g. ec2.amazonaws.com."
  type        = string
}

variable "tag_session" {
  description = "Also allow sts:TagSession (EKS and Pod Identity need it)."
  type        = bool
  default     = false
}

variable "managed_policy_arns" {
  description = "AWS managed policies to attach."
  type        = list(string)
  default     = []
}

resource "aws_iam_role" "this" {
  name = var.name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = var.service }
      Action    = var.tag_session ? ["sts:AssumeRole", "sts:TagSession"] : ["sts:AssumeRole"]
    }]
  })
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each   = toset(var.managed_policy_arns)
  role       = aws_iam_role.this.name
  policy_arn = each.value
}

output "arn" {
  description = "Role ARN."
  value       = aws_iam_role.this.arn
}

output "name" {
  description = "Role name."
  value       = aws_iam_role.this.name
}

output "id" {
  description = "Role id (for inline policies)."
  value       = aws_iam_role.this.id
}
