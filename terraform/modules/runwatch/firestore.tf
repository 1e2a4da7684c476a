# Firestore (native mode): detect keeps the per-service baselines, the admin-write/system-event correlations and its
# applied-entry records in the project's (default) database, the only one its account may use; notify keeps its
# delivery records in a database of their own (deliveries, below), the only one its accounts may use (functions.tf).

locals {
  # Where both databases are created, and stay: a database cannot move (the lifecycle blocks below).
  firestore_location = coalesce(var.firestore_location, var.region)
}

resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  project     = var.project_id
  name        = "(default)"
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Baselines are history that cannot be rebuilt from live traffic: never delete them with `terraform destroy`.
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  # A database cannot move, and a new location_id would replace it: abandoned (above), then created again under the
  # same name, which Firestore refuses (409), leaving it out of the state. So a changed region or firestore_location
  # keeps the database where it is, and the plan fails saying where that is.
  lifecycle {
    ignore_changes = [location_id]

    postcondition {
      condition     = self.location_id == local.firestore_location
      error_message = "The (default) Firestore database is in ${self.location_id}, and a database cannot move. Set firestore_location = \"${self.location_id}\" to keep it there (the functions may run in another region)."
    }
  }

  depends_on = [google_project_service.apis]
}

# notify's delivery records (one small document per sink and finding, sinks/firestoreRecords.ts), apart from detect's
# state: each notify account is granted Firestore on this database only (functions.tf), so a compromised notify
# function (it holds a sink's token and talks to the internet) cannot rewrite or delete the baselines in (default) and
# blind detection. Always created: a named database cannot exist before the module, as (default) may. Kept on destroy,
# like (default): the records are what keeps a replay of old history from posting a finding twice.
resource "google_firestore_database" "deliveries" {
  project     = var.project_id
  name        = "${var.name_prefix}-deliveries"
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  # Kept where it is, as (default) above.
  lifecycle {
    ignore_changes = [location_id]

    postcondition {
      condition     = self.location_id == local.firestore_location
      error_message = "The ${self.name} Firestore database is in ${self.location_id}, and a database cannot move. Set firestore_location = \"${self.location_id}\" to keep it there (the functions may run in another region)."
    }
  }

  depends_on = [google_project_service.apis]
}

# detect records every applied audit entry in runwatch-baselines-applied (so a copy delivered long after, such as a
# redrive days later, changes nothing). One small document per entry: a TTL policy deletes each 63 days after it was
# written (its expireAt), and the field needs no index.
resource "google_firestore_field" "applied_expire_at" {
  project    = var.project_id
  database   = "(default)"
  collection = "runwatch-baselines-applied"
  field      = "expireAt"

  ttl_config {}
  index_config {}

  depends_on = [google_firestore_database.default, google_project_service.apis]
}

# The baseline documents' `baseline` and `outbox` are JSON texts nobody queries (functions/baseline/firestore.ts):
# their single-field indexes would only cost write time and index storage on every transaction. `dueAtMs` and
# `outboxSinceMs` keep theirs: the sweep queries them. Field configurations are changed one after the other (the
# API answered a 409 to concurrent ones on a new database: hashicorp/terraform-provider-google#16329).
resource "google_firestore_field" "baseline_unindexed" {
  project    = var.project_id
  database   = "(default)"
  collection = "runwatch-baselines"
  field      = "baseline"

  index_config {}

  depends_on = [google_firestore_database.default, google_project_service.apis, google_firestore_field.applied_expire_at]
}

resource "google_firestore_field" "outbox_unindexed" {
  project    = var.project_id
  database   = "(default)"
  collection = "runwatch-baselines"
  field      = "outbox"

  index_config {}

  depends_on = [google_firestore_database.default, google_project_service.apis, google_firestore_field.baseline_unindexed]
}

# What a baseline document's outbox has no room for (a Pub/Sub outage while a service keeps being deployed) waits in
# its runwatch-baselines-outbox subcollection, as JSON texts nobody queries either.
resource "google_firestore_field" "outbox_spill_unindexed" {
  project    = var.project_id
  database   = "(default)"
  collection = "runwatch-baselines-outbox"
  field      = "findings"

  index_config {}

  depends_on = [google_firestore_database.default, google_project_service.apis, google_firestore_field.outbox_unindexed]
}
