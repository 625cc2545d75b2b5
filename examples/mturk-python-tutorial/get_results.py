# get_results.py: the MTurk Python tutorial's second script, as its readers wrote it (boto3 + xmltodict).
# The tutorial pasted the HIT id into the file; here it is the first argument.
import sys

import boto3
# You will need the following library
# to help parse the XML answers supplied from MTurk
# Install it in your local environment with
# pip install xmltodict
import xmltodict

mturk = boto3.client('mturk',
   region_name='us-east-1',
)

# Use the hit_id previously created
hit_id = sys.argv[1] if len(sys.argv) > 1 else 'PASTE_IN_YOUR_HIT_ID'
worker_results = mturk.list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=['Submitted'])

if worker_results['NumResults'] > 0:
   for assignment in worker_results['Assignments']:
      xml_doc = xmltodict.parse(assignment['Answer'])

      print("Worker's answer was:")
      if type(xml_doc['QuestionFormAnswers']['Answer']) is list:
         # Multiple fields in HIT layout
         answers = xml_doc['QuestionFormAnswers']['Answer']
      else:
         # One field found in HIT layout
         answers = [xml_doc['QuestionFormAnswers']['Answer']]
      for answer_field in answers:
         print("For input field: " + answer_field['QuestionIdentifier'])
         print("Submitted answer: " + str(answer_field['FreeText']))

      if all(not (answer_field['FreeText'] or '').strip() for answer_field in answers):
         # Blank work: reject it, with the reason the Worker will see
         mturk.reject_assignment(
            AssignmentId=assignment['AssignmentId'],
            RequesterFeedback='The answer was left blank.',
         )
         print("Rejected " + assignment['AssignmentId'])
      else:
         mturk.approve_assignment(
            AssignmentId=assignment['AssignmentId'],
            RequesterFeedback='Good work, thank you!',
            OverrideRejection=False,
         )
         mturk.send_bonus(
            WorkerId=assignment['WorkerId'],
            BonusAmount='0.10',
            AssignmentId=assignment['AssignmentId'],
            Reason='Thanks for a clear answer!',
            UniqueRequestToken=assignment['AssignmentId'] + '-bonus',
         )
         print("Approved " + assignment['AssignmentId'] + " and sent a $0.10 bonus")
else:
   print("No results ready yet")

print("I have $" + mturk.get_account_balance()['AvailableBalance'] + " left")
