/**
 * `acme-certs renew --remote`: the Lambda Invoke, through the SDK client's own request pipeline, to
 * a local HTTP server standing in for Lambda (moto cannot run a function without Docker). What is
 * checked is what a real account would see: one request, never retried, with the event as payload,
 * and a socket that waits past the function's own timeout.
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { invokeRenew, renewInvokerClient } from '../../functions/adapters/lambda-invoker.js';

async function lambdaStandIn(answer: (request: IncomingMessage, body: string) => { status: number; headers?: Record<string, string>; body: string }) {
  const requests: { method: string; path: string; body: string; headers: IncomingMessage['headers'] }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', path: request.url ?? '', body, headers: request.headers });
      const reply = answer(request, body);
      response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      response.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { endpoint, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const base = (endpoint: string) => ({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });

test('one synchronous Invoke carries the event, and the socket waits past the function\'s timeout', async () => {
  const lambda = await lambdaStandIn(() => ({ status: 200, body: JSON.stringify({ counts: { renewed: 1 } }) }));
  try {
    const client = renewInvokerClient(base(lambda.endpoint), 900);

    const result = await invokeRenew(client, 'acme-certificates-production-renew', { domains: ['a.test'], force: true });

    assert.deepEqual(result, { payload: { counts: { renewed: 1 } }, functionError: null });
    assert.equal(lambda.requests.length, 1);
    const [request] = lambda.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.path, '/2015-03-31/functions/acme-certificates-production-renew/invocations');
    assert.equal(request?.headers['x-amz-invocation-type'], 'RequestResponse');
    assert.deepEqual(JSON.parse(request?.body ?? ''), { domains: ['a.test'], force: true });
    assert.equal(await client.config.maxAttempts(), 1);
    const handler = client.config.requestHandler as unknown as { httpHandlerConfigs(): { requestTimeout?: number } };
    assert.equal(handler.httpHandlerConfigs().requestTimeout, 960_000);
  } finally {
    await lambda.close();
  }
});

test('an answer the SDK would retry (503, throttling) is not retried: a retry would be a second renewal run', async () => {
  const lambda = await lambdaStandIn(() => ({ status: 503, headers: { 'x-amzn-errortype': 'ServiceException' }, body: JSON.stringify({ message: 'busy' }) }));
  try {
    const client = renewInvokerClient(base(lambda.endpoint), 900);

    await assert.rejects(invokeRenew(client, 'renew', {}), /busy|ServiceException/);

    assert.equal(lambda.requests.length, 1);
  } finally {
    await lambda.close();
  }
});

test('a function error is reported as one, with the function\'s own error object', async () => {
  const lambda = await lambdaStandIn(() => ({ status: 200, headers: { 'x-amz-function-error': 'Unhandled' }, body: JSON.stringify({ errorType: 'Error', errorMessage: '1 domain failed' }) }));
  try {
    const result = await invokeRenew(renewInvokerClient(base(lambda.endpoint), 900), 'renew', {});

    assert.deepEqual(result, { payload: { errorType: 'Error', errorMessage: '1 domain failed' }, functionError: 'Unhandled' });
  } finally {
    await lambda.close();
  }
});
