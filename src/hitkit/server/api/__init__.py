"""The MTurk Requester API: `dispatch.py` (X-Amz-Target routing, SigV4, validation, transactions, errors) and one
module per resource: hits.py, assignments.py, money.py, qualifications.py, workers.py, notifications.py."""
