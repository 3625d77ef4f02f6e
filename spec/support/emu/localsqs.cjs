// local-aws-sqs (SQS, query and JSON protocols) on 127.0.0.1.
const { createSqsServer } = require("local-aws-sqs");
createSqsServer({ port: Number(process.env.PORT || 19005), hostname: "127.0.0.1",
  emulateQueueCreationLifecycle: false });
