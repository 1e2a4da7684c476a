output "audit_topic_id" {
  description = "Topic the project sink routes audit entries to."
  value       = module.runwatch.audit_topic_id
}

output "findings_topic_id" {
  description = "Topic the findings flow through (publish a test finding here)."
  value       = module.runwatch.findings_topic_id
}

output "dead_letter_subscription_id" {
  description = "Pull subscription holding the audit side's dead letters (runwatch redrive reads it and the next)."
  value       = module.runwatch.dead_letter_subscription_id
}

output "findings_dead_letter_subscription_id" {
  description = "Pull subscriptions holding the findings side's dead letters, one per sink."
  value       = module.runwatch.findings_dead_letter_subscription_id
}

output "secret_ids" {
  description = "Secrets to fill with gcloud secrets versions add."
  value       = module.runwatch.secret_ids
}

output "function_names" {
  description = "Deployed functions."
  value       = module.runwatch.function_names
}
