"""HTTP surfaces besides the MTurk API: the worker JSON API, the externalSubmit form target, admin routes
(and, later, the worker and console pages)."""
