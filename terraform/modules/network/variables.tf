variable "name" {
  description = "Prefix for every resource name."
  type        = string
}

variable "cidr" {
  description = "The VPC's address range; split into 3 public and 3 private subnets."
  type        = string
  default     = "10.0.0.0/16"
}

variable "azs" {
  description = "Three availability zones."
  type        = list(string)
  validation {
    condition     = length(var.azs) == 3
    error_message = "Give exactly three availability zones."
  }
}

variable "enable_nat_instance" {
  description = "One small NAT instance instead of NAT gateways: about USD 30 a month less per gateway, at the price of a single point of failure for outbound traffic. For dev."
  type        = bool
  default     = false
}

variable "single_nat_gateway" {
  description = "With NAT gateways: one shared gateway instead of one per zone."
  type        = bool
  default     = false
}

variable "nat_instance_type" {
  description = "Instance type of the NAT instance."
  type        = string
  default     = "t4g.nano"
}

variable "cluster_name" {
  description = "EKS cluster whose load balancers and Karpenter nodes use these subnets."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long VPC flow logs are kept."
  type        = number
  default     = 365
}
