/**
 * The `calculator` tool: arithmetic by a small recursive-descent parser. No eval, no
 * Function, no variables: only numbers, + - * / % ^, parentheses, a few functions and
 * constants. Input and nesting are bounded.
 */

const MAX_LENGTH = 500;
const MAX_DEPTH = 50;

const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  sqrt: Math.sqrt,
  abs: Math.abs,
  round: Math.round,
  floor: Math.floor,
  ceil: Math.ceil,
  ln: Math.log,
  log10: Math.log10,
  exp: Math.exp,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  min: Math.min,
  max: Math.max,
};
const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

export class CalculatorError extends Error {}

type Token = { kind: 'num'; value: number } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)|([a-z_][a-z0-9_]*)|(\*\*|[-+*/%^(),]))/giy;
  let index = 0;
  while (index < input.length) {
    if (/^\s*$/.test(input.slice(index))) break;
    pattern.lastIndex = index;
    const match = pattern.exec(input);
    if (!match) throw new CalculatorError(`Unexpected character at position ${index + 1}.`);
    if (match[1] !== undefined) tokens.push({ kind: 'num', value: Number(match[1]) });
    else if (match[2] !== undefined) tokens.push({ kind: 'id', value: match[2].toLowerCase() });
    else tokens.push({ kind: 'op', value: match[3] === '**' ? '^' : match[3]! });
    index = pattern.lastIndex;
  }
  return tokens;
}

/** Evaluates an arithmetic expression; throws CalculatorError with a message the model can act on. */
export function calculate(expression: string): number {
  if (expression.length > MAX_LENGTH) throw new CalculatorError(`Expression longer than ${MAX_LENGTH} characters.`);
  const tokens = tokenize(expression);
  let position = 0;
  let depth = 0;
  const peek = () => tokens[position];
  const isOp = (value: string) => peek()?.kind === 'op' && peek()!.value === value;
  const expect = (value: string) => {
    if (!isOp(value)) throw new CalculatorError(`Expected "${value}".`);
    position++;
  };

  const expressionRule = (): number => {
    let value = term();
    while (isOp('+') || isOp('-')) value = tokens[position++]!.value === '+' ? value + term() : value - term();
    return value;
  };
  const term = (): number => {
    let value = unary();
    while (isOp('*') || isOp('/') || isOp('%')) {
      const op = tokens[position++]!.value;
      const right = unary();
      if ((op === '/' || op === '%') && right === 0) throw new CalculatorError('Division by zero.');
      value = op === '*' ? value * right : op === '/' ? value / right : value % right;
    }
    return value;
  };
  const unary = (): number => {
    if (isOp('-') || isOp('+')) {
      const negative = tokens[position++]!.value === '-';
      if (++depth > MAX_DEPTH) throw new CalculatorError('Expression nested too deeply.');
      const value = unary();
      depth--;
      return negative ? -value : value;
    }
    return power();
  };
  const power = (): number => {
    const base = primary();
    if (!isOp('^')) return base;
    position++;
    if (++depth > MAX_DEPTH) throw new CalculatorError('Expression nested too deeply.');
    const exponent = unary(); // right-associative
    depth--;
    return base ** exponent;
  };
  const primary = (): number => {
    const token = peek();
    if (!token) throw new CalculatorError('Unexpected end of expression.');
    position++;
    if (token.kind === 'num') return token.value;
    if (token.kind === 'id') {
      if (token.value in CONSTANTS) return CONSTANTS[token.value]!;
      const fn = Object.hasOwn(FUNCTIONS, token.value) ? FUNCTIONS[token.value] : undefined;
      if (!fn) throw new CalculatorError(`Unknown name "${token.value}".`);
      expect('(');
      const args = [nested()];
      while (isOp(',')) {
        position++;
        args.push(nested());
      }
      expect(')');
      return fn(...args);
    }
    if (token.value === '(') {
      const value = nested();
      expect(')');
      return value;
    }
    throw new CalculatorError(`Unexpected "${token.value}".`);
  };
  const nested = (): number => {
    if (++depth > MAX_DEPTH) throw new CalculatorError('Expression nested too deeply.');
    const value = expressionRule();
    depth--;
    return value;
  };

  if (tokens.length === 0) throw new CalculatorError('Empty expression.');
  const result = expressionRule();
  if (position !== tokens.length) throw new CalculatorError(`Unexpected "${tokens[position]!.value}".`);
  if (!Number.isFinite(result)) throw new CalculatorError('The result is not a finite number.');
  return result;
}
