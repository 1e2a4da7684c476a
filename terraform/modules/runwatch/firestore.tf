# Firestore (native mode) holds the per-service baselines, the admin-write/system-event correlations, and the
# idempotency and delivery records. The functions use the project's (default) database.

resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  project     = var.project_id
  name        = "(default)"
  location_id = coalesce(var.firestore_location, var.region)
  type        = "FIRESTORE_NATIVE"

  # Baselines are history that cannot be rebuilt from live traffic: never delete them with `terraform destroy`.
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.apis]
}
