// fauxqs (SQS JSON protocol + SNS + S3) bound to 127.0.0.1 only; its CLI binds 0.0.0.0.
import { buildApp } from "fauxqs";
const port = Number(process.env.FAUXQS_PORT || 19001);
const app = buildApp({ logger: false });
await app.listen({ port, host: "127.0.0.1" });
