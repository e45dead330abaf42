# CloudFront's access logs. CloudFront standard logging writes with ACLs,
# so this bucket keeps ACLs enabled for the log-delivery account only.

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_144:access logs are not worth a second region
  # checkov:skip=CKV_AWS_145:CloudFront log delivery cannot write to SSE-KMS buckets; SSE-S3 is used
  # checkov:skip=CKV2_AWS_62:nothing consumes log-file events
  # checkov:skip=CKV_AWS_18:this is the access-log bucket; logging it would log the logger
  bucket = "${var.name}-edge-logs-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  # checkov:skip=CKV2_AWS_65:CloudFront standard logging delivers with ACLs; public ACLs stay blocked below
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}
