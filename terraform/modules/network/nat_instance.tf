# The cheap alternative to NAT gateways (enable_nat_instance): one Graviton
# nano instance that forwards and masquerades the private subnets' traffic.

data "aws_ssm_parameter" "al2023_arm64" {
  count = var.enable_nat_instance ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

resource "aws_security_group" "nat" {
  # checkov:skip=CKV_AWS_382:a NAT forwards whatever the private subnets send, on any protocol and port
  count       = var.enable_nat_instance ? 1 : 0
  name        = "${var.name}-nat"
  description = "NAT instance: from the private subnets, out to anywhere"
  vpc_id      = aws_vpc.this.id

  ingress {
    description = "Traffic from the private subnets"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = local.private_cidrs
  }

  egress {
    description = "Forwarded traffic to the internet"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# Session Manager instead of SSH: no key pair, no open port.
module "nat_role" {
  source              = "../service-role"
  count               = var.enable_nat_instance ? 1 : 0
  name                = "${var.name}-nat-instance"
  service             = "ec2.amazonaws.com"
  managed_policy_arns = ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
}

resource "aws_iam_instance_profile" "nat" {
  count = var.enable_nat_instance ? 1 : 0
  name  = "${var.name}-nat-instance"
  role  = module.nat_role[0].name
}

resource "aws_instance" "nat" {
  count                  = var.enable_nat_instance ? 1 : 0
  ami                    = data.aws_ssm_parameter.al2023_arm64[0].value
  instance_type          = var.nat_instance_type
  subnet_id              = aws_subnet.public[0].id
  vpc_security_group_ids = [aws_security_group.nat[0].id]
  iam_instance_profile   = aws_iam_instance_profile.nat[0].name
  source_dest_check      = false
  ebs_optimized          = true
  monitoring             = true
  # checkov:skip=CKV_AWS_88:a NAT instance needs a public address to reach the internet
  associate_public_ip_address = true

  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }

  root_block_device {
    encrypted   = true
    volume_type = "gp3"
  }

  user_data = <<-SCRIPT
    #!/bin/bash
    set -euo pipefail
    dnf install -y iptables-services
    echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
    sysctl --system
    device="$(ip route show default | awk '{print $5}')"
    iptables -t nat -A POSTROUTING -o "$device" -s ${var.cidr} -j MASQUERADE
    iptables -F FORWARD
    service iptables save
    systemctl enable --now iptables
  SCRIPT

  tags = { Name = "${var.name}-nat" }
}
