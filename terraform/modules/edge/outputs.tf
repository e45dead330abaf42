output "distribution_arn" {
  description = "For the CI role."
  value       = aws_cloudfront_distribution.this.arn
}

output "distribution_id" {
  description = "For cache invalidations after a deploy."
  value       = aws_cloudfront_distribution.this.id
}

output "origin_certificate_arn" {
  description = "Certificate the ALB serves."
  value       = aws_acm_certificate_validation.origin.certificate_arn
}
