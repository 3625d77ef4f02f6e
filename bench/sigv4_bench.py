#!/usr/bin/python3
"""SigV4 signatures per second with botocore (SigV4Auth / S3SigV4Auth) on the same two requests
as bench/sigv4_bench.sh signs with gfhost: an S3 GET and an SQS JSON POST.
usage: sigv4_bench.py SECONDS  -> prints "s3_get <rate>" and "sqs_post <rate>" (signatures/s),
after "check_s3_get <Authorization>" and "check_sqs_post <Authorization>": the same requests
signed at the fixed time CHECK_TIME, which bench/sigv4_bench.sh compares with gfhost's."""
import datetime
import sys
import time
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
CREDS = Credentials('AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')
BODY = ('{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/gf-queue",'
        '"MessageBody":"{\\"bucket\\":\\"bkt\\",\\"key\\":\\"dir/2024/file.grib2\\"}"}')


CHECK_TIME = 1700000000  # 2023-11-14T22:13:20Z, also in bench/sigv4_bench.sh


def make_s3():
    return AWSRequest(method='GET',
                      url='https://bkt.s3.us-east-1.amazonaws.com/dir/2024/file%20name.grib2',
                      headers={'Range': 'bytes=0-1048575'})


def make_sqs():
    return AWSRequest(method='POST', url='https://sqs.us-east-1.amazonaws.com/', data=BODY.encode(),
                      headers={'Content-Type': 'application/x-amz-json-1.0',
                               'X-Amz-Target': 'AmazonSQS.SendMessage'})


def check(auth, req):
    """The Authorization header of req signed at CHECK_TIME (botocore reads the clock itself)."""
    t = datetime.datetime.utcfromtimestamp(CHECK_TIME)
    with mock.patch('botocore.auth.datetime') as dt:
        dt.datetime.utcnow.return_value = t
        dt.datetime.strptime = datetime.datetime.strptime
        auth.add_auth(req)
    return req.headers['Authorization']


def rate(auth, req):
    n, t0 = 0, time.process_time()
    deadline = t0 + SECONDS
    while True:
        for _ in range(200):
            auth.add_auth(req)
        n += 200
        t = time.process_time()
        if t >= deadline:
            return n / (t - t0)


S3_AUTH = botocore.auth.S3SigV4Auth(CREDS, 's3', 'us-east-1')
SQS_AUTH = botocore.auth.SigV4Auth(CREDS, 'sqs', 'us-east-1')
print('check_s3_get %s' % check(S3_AUTH, make_s3()))
print('check_sqs_post %s' % check(SQS_AUTH, make_sqs()))
print('s3_get %.0f' % rate(S3_AUTH, make_s3()))
print('sqs_post %.0f' % rate(SQS_AUTH, make_sqs()))
