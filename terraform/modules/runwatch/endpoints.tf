# The endpoint overrides (var.endpoints) as the environment of the functions that use them, under the variables the
# code reads: detect's Admin API fallback, and each sink's notify function. Only what was set; pure expressions, so
# the offline tests evaluate them with `terraform console`.
locals {
  endpoint_env = {
    detect    = { for name, value in { RUN_API_ENDPOINT = var.endpoints.run_api_endpoint } : name => value if value != null }
    pagerduty = { for name, value in { PAGERDUTY_EVENTS_URL = var.endpoints.pagerduty_events_url } : name => value if value != null }
    slack     = { for name, value in { SLACK_API_URL = var.endpoints.slack_api_url } : name => value if value != null }
  }
}
