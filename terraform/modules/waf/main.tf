# A web ACL with AWS managed rules and a per-IP rate limit. Used twice: scope
# CLOUDFRONT (created in us-east-1) for the distribution, REGIONAL for the ALB.

variable "name" {
  description = "Web ACL name."
  type        = string
}

variable "scope" {
  description = "CLOUDFRONT or REGIONAL."
  type        = string
  validation {
    condition     = contains(["CLOUDFRONT", "REGIONAL"], var.scope)
    error_message = "scope is CLOUDFRONT or REGIONAL."
  }
}

variable "rate_limit_per_5_minutes" {
  description = "Requests one IP may make in 5 minutes before it is blocked."
  type        = number
  default     = 2000
}

variable "kms_key_arn" {
  description = "KMS key for the WAF log group, in the ACL's region."
  type        = string
}

variable "log_retention_days" {
  description = "How long WAF logs are kept."
  type        = number
  default     = 365
}

locals {
  managed_groups = {
    AWSManagedRulesAmazonIpReputationList = 10
    AWSManagedRulesCommonRuleSet          = 30
    AWSManagedRulesAnonymousIpList        = 40
  }
}

resource "aws_wafv2_web_acl" "this" {
  name  = var.name
  scope = var.scope

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.rate_limit_per_5_minutes
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  # Log4Shell and other known-bad request patterns.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 20
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  dynamic "rule" {
    for_each = local.managed_groups
    content {
      name     = rule.key
      priority = rule.value
      override_action {
        none {}
      }
      statement {
        managed_rule_group_statement {
          name        = rule.key
          vendor_name = "AWS"
          # Questions are long (a CSAT passage is easily over 8 KB), which the
          # common rule set would block as an oversized body: count it only.
          dynamic "rule_action_override" {
            for_each = rule.key == "AWSManagedRulesCommonRuleSet" ? ["SizeRestrictions_BODY"] : []
            content {
              name = rule_action_override.value
              action_to_use {
                count {}
              }
            }
          }
        }
      }
      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${var.name}-${rule.key}"
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }
}

# WAF only logs to groups whose names start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "this" {
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.this.arn]

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }
}

output "arn" {
  description = "Web ACL ARN (the Ingress annotation, or the distribution's web_acl_id)."
  value       = aws_wafv2_web_acl.this.arn
}
