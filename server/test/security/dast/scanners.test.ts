/**
 * The scanners' output is parsed, not eyeballed: these excerpts follow the output of sqlmap 1.7 runs
 * against the staging stack, and what the suite must make of them.
 */
import { describe, expect, it } from 'vitest';
import { namedParameters, sqlmapVerdicts, untested } from './scanners.js';

const CLEAN = `[INFO] testing 'AND boolean-based blind - WHERE or HAVING clause'
[INFO] URI parameter '#1*' appears to be 'AND boolean-based blind - WHERE or HAVING clause' injectable
[INFO] checking if the injection point on URI parameter '#1*' is a false positive
[WARNING] false positive or unexploitable injection point detected
[WARNING] URI parameter '#1*' does not seem to be injectable
[WARNING] URI parameter '#2*' does not seem to be injectable
[WARNING] (custom) POST parameter 'JSON query' does not seem to be injectable
[ERROR] all tested parameters do not appear to be injectable.`;

const summary = (parameter: string) => `URI parameter '${parameter}' is vulnerable. Do you want to keep testing the others (if any)? [y/N] Y
sqlmap identified the following injection point(s) with a total of 165 HTTP(s) requests:
---
Parameter: ${parameter} (URI)
    Type: boolean-based blind
    Title: AND boolean-based blind - WHERE or HAVING clause
    Payload: https://127.0.0.1:45721/api/v1/admin/users?q=x') AND 9452=9452 AND ('beOm' LIKE 'beOm&limit=20
---
do you want to exploit this SQL injection? [Y/n] Y
[INFO] testing PostgreSQL
`;
const CONFIRMED = `${summary('#1*')}[INFO] confirming PostgreSQL
[INFO] the back-end DBMS is PostgreSQL
back-end DBMS: PostgreSQL`;
const UNCONFIRMED = `${summary('#1*')}[WARNING] the back-end DBMS is not PostgreSQL
[WARNING] the back-end DBMS is not MySQL
[ERROR] sqlmap was not able to fingerprint the back-end database management system, skipping to the next target`;

describe('sqlmap verdicts', () => {
  it('a parameter is injectable only when the closing summary names it, not when a check merely "appears" to work', () => {
    expect(sqlmapVerdicts(CLEAN)).toEqual({ tested: new Set(['#1*', '#2*', 'JSON query']), injectable: new Set(), confirmed: true });
    expect(sqlmapVerdicts(CONFIRMED)).toMatchObject({ injectable: new Set(['#1*']), confirmed: true });
  });

  it('an injection no database fingerprint answers through is unconfirmed', () => {
    expect(sqlmapVerdicts(UNCONFIRMED)).toMatchObject({ tested: new Set(['#1*']), injectable: new Set(['#1*']), confirmed: false });
  });

  it('a parameter without a verdict is named', () => {
    const { tested } = sqlmapVerdicts(CLEAN);
    expect(untested({ markers: 2, bodyFields: ['query'] }, tested)).toEqual([]);
    expect(untested({ markers: 3, bodyFields: ['query', 'topK'] }, tested)).toEqual(['body topK', 'URL marker #3']);
    // With a JSON body sqlmap names the URL's markers after it.
    expect(untested({ markers: 1, bodyFields: [] }, new Set(['JSON #1*']))).toEqual([]);
    expect(untested({ markers: 1, bodyFields: ['name'] }, new Set())).toEqual(['body name', 'URL marker #1']);
  });

  it('names every parameter when one looks like an anti-CSRF value, which sqlmap would skip', () => {
    expect(namedParameters({ markers: 1, bodyFields: ['name'] })).toEqual([]);
    expect(namedParameters({ markers: 1, bodyFields: ['token', 'password'] })).toEqual(['-p', 'token,password,#1*,User-Agent,Referer']);
    expect(namedParameters({ markers: 0, bodyFields: ['refreshToken'] })).toEqual(['-p', 'refreshToken,User-Agent,Referer']);
  });
});
