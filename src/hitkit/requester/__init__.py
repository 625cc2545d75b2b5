"""The requester toolkit: project folders, launch, collect, review, pay and export. It talks to any
MTurk-compatible endpoint (a hitkit server, or anything else that speaks the MTurk Requester API) only through
boto3, never by importing the server."""
