// The baseline: a bare node:http server that reads the POST body, parses it and answers the JSON
// the SDK endpoints answer, with no other work.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      /* the baseline never fails */
    }
    const body = req.url.startsWith('/api/track/configure')
      ? '{"sdkEnabled":true,"sdk_enabled":true,"attribution":null}'
      : '{"ok":true}';
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
