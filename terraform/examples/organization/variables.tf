variable "project_id" {
  type        = string
  description = "Project that hosts runwatch (a dedicated security-tooling project is a good home)."
}

variable "region" {
  type        = string
  description = "Region of the functions and the Firestore database, e.g. europe-west1."
  default     = "us-central1"
}

variable "organization_id" {
  type        = string
  description = "Numeric ID of the organization whose Cloud Run services are watched and whose SCC receives the findings."
}

variable "sinks" {
  type        = set(string)
  description = "Where findings go: any of scc, slack, pagerduty, webhook, console."
  default     = ["scc", "slack", "pagerduty"]
}

variable "slack_secret_version" {
  type        = string
  description = "Version of the Slack token secret the function reads (\"latest\" or a number; bump after rotating)."
  default     = "latest"
}

variable "pagerduty_secret_version" {
  type        = string
  description = "Version of the PagerDuty routing key secret the function reads (\"latest\" or a number; bump after rotating)."
  default     = "latest"
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels (projects/P/notificationChannels/N) told when the pipeline fails; empty: no alert policies."
  default     = []
}
