// Runs doiuse-email (caniemail's data) over HTML files and prints one JSON object:
// {file: {success, errors, notes}}.   node doiuse.mjs NODE_MODULES CLIENT_GLOBS FILE...
// The modules are imported by path: doiuse-email 0.4 has caniemail's Outlook.com results
// but leaves "outlook.outlook-com" out of the client list it matches globs against, so it is
// added to that (shared, mutable) list before checking.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, clients, ...files] = process.argv.slice(2);
const utils = path.join(modules, 'doiuse-email', 'utils');
const lists = await import(pathToFileURL(path.join(utils, 'email-clients.js')).href);
if (!lists.emailClientsList.includes('outlook.outlook-com')) {
  lists.emailClientsList.push('outlook.outlook-com');
}
const { doIUseEmail } = await import(pathToFileURL(path.join(utils, 'doiuse.js')).href);
const results = {};
for (const file of files) {
  results[file] = doIUseEmail(fs.readFileSync(file, 'utf8'), { emailClients: clients.split(',') });
}
process.stdout.write(JSON.stringify(results));
