# create_tasks.py: the MTurk Python tutorial's first script, as its readers wrote it (boto3 only).
#
# The tutorial pasted IAM keys and `endpoint_url = MTURK_SANDBOX` into boto3.client(). For the live marketplace it
# said "just leave out the endpoint parameter", which is what this file does. boto3 then takes the endpoint from
# AWS_ENDPOINT_URL_MTURK and the keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: set those to a hitkit
# server and its requester keys, and nothing in this file knows it is not talking to Amazon.
import boto3

mturk = boto3.client('mturk',
   region_name='us-east-1',
)

print("I have $" + mturk.get_account_balance()['AvailableBalance'] + " in my account")

question = open(file='question.xml', mode='r').read()
new_hit = mturk.create_hit(
    Title = 'Is this Tweet happy, angry, excited, scared, annoyed or upset?',
    Description = 'Read this tweet and type out one word to describe the emotion of the person posting it: happy, angry, scared, annoyed or upset',
    Keywords = 'text, quick, labeling',
    Reward = '0.15',
    MaxAssignments = 3,
    LifetimeInSeconds = 172800,
    AssignmentDurationInSeconds = 600,
    AutoApprovalDelayInSeconds = 14400,
    Question = question,
)
print("A new HIT has been created. You can preview it here:")
print("https://worker.mturk.com/mturk/preview?groupId=" + new_hit['HIT']['HITGroupId'])
print("HITID = " + new_hit['HIT']['HITId'] + " (Use to Get Results)")
