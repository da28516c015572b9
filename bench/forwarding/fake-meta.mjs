// A fake Meta Conversions API for the forwarding benchmark: answers every POST …/events after
// DELAY_MS (default 50) with events_received, like the real one; GET /count reports what it got.
import { createServer } from 'node:http';

const delay = Number(process.env.DELAY_MS ?? 50);
let requests = 0;
let events = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests, events }));
      return;
    }
    let n = 0;
    try {
      n = JSON.parse(Buffer.concat(chunks).toString('utf8')).data.length;
    } catch {
      /* counted as 0 */
    }
    requests++;
    events += n;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ events_received: n, messages: [], fbtrace_id: 'FAKE' }));
    }, delay);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
