// The baseline: a bare node:http server answering the same 302 the redirect answers, with no work.
import { createServer } from 'node:http';

const location = process.env.LOCATION ?? 'https://apps.apple.com/app/id1234567890';
const server = createServer((req, res) => {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': '0' });
  res.end();
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
