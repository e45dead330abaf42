variable "name" {
  description = "Prefix for resource names."
  type        = string
}

variable "domain_name" {
  description = "The site's host name, e.g. weasel.example.com."
  type        = string
}

variable "zone_id" {
  description = "Route53 hosted zone that holds domain_name."
  type        = string
}

variable "origin_domain_name" {
  description = "Host name CloudFront forwards to: origin.<domain>, pointing at the ALB the Ingress creates."
  type        = string
}

variable "alb_dns_name" {
  description = "DNS name of the ALB made by the AWS Load Balancer Controller (known after the first deploy; empty before)."
  type        = string
  default     = ""
}

variable "alb_zone_id" {
  description = "Hosted zone id of that ALB."
  type        = string
  default     = ""
}

variable "web_acl_arn" {
  description = "CLOUDFRONT-scope web ACL."
  type        = string
}

variable "price_class" {
  description = "PriceClass_200 covers Korea and Japan at a lower price than All."
  type        = string
  default     = "PriceClass_200"
}

variable "log_retention_days" {
  description = "How long CloudFront access logs are kept."
  type        = number
  default     = 365
}
