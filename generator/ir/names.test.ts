import { describe, expect, it } from 'vitest';
import { isPortableName, looseNames, names } from './names.ts';

describe('names', () => {
  it.each([
    ['user_joined', { camel: 'userJoined', type: 'UserJoined', pascal: 'UserJoined', snake: 'user_joined', constant: 'USER_JOINED' }],
    ['userJoined', { camel: 'userJoined', type: 'UserJoined', pascal: 'UserJoined', snake: 'user_joined', constant: 'USER_JOINED' }],
    ['HTTPRequest', { camel: 'httpRequest', type: 'HttpRequest', pascal: 'HttpRequest', snake: 'http_request', constant: 'HTTP_REQUEST' }],
    ['metrics.v2-batch', { camel: 'metricsV2Batch', type: 'MetricsV2Batch', pascal: 'MetricsV2Batch', snake: 'metrics_v2_batch', constant: 'METRICS_V2_BATCH' }],
    ['class', { camel: 'class$', type: 'Class', pascal: 'Class', snake: 'class', constant: 'CLASS' }],
    ['constructor', { camel: 'constructor$', type: 'Constructor', pascal: 'Constructor', snake: 'constructor', constant: 'CONSTRUCTOR' }],
    ['Promise', { camel: 'promise', type: 'Promise$', pascal: 'Promise', snake: 'promise', constant: 'PROMISE' }],
  ])('%s', (wire, want) => {
    expect(names(wire)).toEqual({ wire, ...want });
  });

  it.each([
    ['a b', 'a_b', 'AB'],
    ['__proto__', 'proto', 'Proto'],
    ['0abc', 'n_0abc', 'N0abc'],
    ['é', 'e', 'E'],
    ['*/', 'x', 'X'],
    ['`${x}`', 'x', 'X'],
  ])('loose %j -> proto %s / %s', (wire, snake, pascal) => {
    expect(looseNames(wire)).toMatchObject({ wire, snake, pascal });
  });

  it.each([
    ['completion', true],
    ['user_joined', true],
    ['0abc', false],
    ['é', false],
    ['__proto__', false],
    ['a b', false],
    ['', false],
  ])('isPortableName(%j) is %s', (name, want) => {
    expect(isPortableName(name)).toBe(want);
  });
});
