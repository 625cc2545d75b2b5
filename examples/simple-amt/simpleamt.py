# simpleamt.py: the helpers every script below shares, shaped like simple-amt's own (boto3 era, 2019-2020):
# --prod / --hit_ids_file / --config flags, keys from config.json, a client for Amazon's sandbox or production
# endpoint, Jinja templates looked up from the current folder, and simple-amt's qualification shortcuts.
# Nothing here knows about hitkit: `hitkit exec` redirects the client it makes.
import argparse, json

import boto3
from jinja2 import Environment, FileSystemLoader

SANDBOX_URL = 'https://mturk-requester-sandbox.us-east-1.amazonaws.com'
PROD_URL = 'https://mturk-requester.us-east-1.amazonaws.com'


def get_jinja_env():
  return Environment(loader=FileSystemLoader('.'))


def get_parent_parser():
  parser = argparse.ArgumentParser(add_help=False)
  parser.add_argument('--prod', action='store_false', dest='sandbox', default=True,
                      help='Whether to run on the production AMT site.')
  parser.add_argument('--hit_ids_file')
  parser.add_argument('--config', default='config.json', type=argparse.FileType('r'))
  return parser


def get_mturk_connection_from_args(args):
  config = json.load(args.config)
  return boto3.client('mturk',
                      aws_access_key_id=config['aws_access_key'],
                      aws_secret_access_key=config['aws_secret_key'],
                      region_name='us-east-1',
                      endpoint_url=SANDBOX_URL if args.sandbox else PROD_URL)


def setup_qualifications(hit_properties):
  quals = []
  if 'Country' in hit_properties:
    quals.append({'QualificationTypeId': '00000000000000000071', 'Comparator': 'In',
                  'LocaleValues': [{'Country': c} for c in hit_properties.pop('Country')]})
  if 'HitsApproved' in hit_properties:
    quals.append({'QualificationTypeId': '00000000000000000040', 'Comparator': 'GreaterThan',
                  'IntegerValues': [hit_properties.pop('HitsApproved')]})
  if 'PercentApproved' in hit_properties:
    quals.append({'QualificationTypeId': '000000000000000000L0', 'Comparator': 'GreaterThan',
                  'IntegerValues': [hit_properties.pop('PercentApproved')]})
  hit_properties['QualificationRequirements'] = quals
