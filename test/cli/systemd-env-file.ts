/**
 * A reader of environment files as systemd's EnvironmentFile= reads them: the state machine of
 * systemd's src/basic/env-file.c (parse_env_file_internal), written again here so that tests can
 * check what `himari-l0 config` prints without a systemd on the machine.
 */
const WHITESPACE = ' \t\n\r';
const NEWLINE = '\n\r';
const COMMENTS = '#;';
/** Characters a backslash unescapes inside double quotes (SHELL_NEED_ESCAPE). */
const SHELL_NEED_ESCAPE = '"\\`$';

export function parseSystemdEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  type State = 'PRE_KEY' | 'KEY' | 'PRE_VALUE' | 'VALUE' | 'VALUE_ESCAPE' | 'SQ' | 'DQ' | 'DQ_ESCAPE' | 'COMMENT' | 'COMMENT_ESCAPE';
  let state: State = 'PRE_KEY';
  let key = '';
  let value = '';
  let keyTrailingWs = -1;
  let valueTrailingWs = -1;
  const push = (chomp: boolean) => {
    if (keyTrailingWs >= 0) key = key.slice(0, keyTrailingWs);
    if (chomp && valueTrailingWs >= 0) value = value.slice(0, valueTrailingWs);
    env[key] = value;
    key = '';
    value = '';
  };
  for (const c of text) {
    switch (state) {
      case 'PRE_KEY':
        if (COMMENTS.includes(c)) state = 'COMMENT';
        else if (!WHITESPACE.includes(c)) { state = 'KEY'; keyTrailingWs = -1; key += c; }
        break;
      case 'KEY':
        if (NEWLINE.includes(c)) { state = 'PRE_KEY'; key = ''; }
        else if (c === '=') { state = 'PRE_VALUE'; valueTrailingWs = -1; }
        else {
          if (!WHITESPACE.includes(c)) keyTrailingWs = -1;
          else if (keyTrailingWs < 0) keyTrailingWs = key.length;
          key += c;
        }
        break;
      case 'PRE_VALUE':
        if (NEWLINE.includes(c)) { state = 'PRE_KEY'; push(false); }
        else if (c === "'") state = 'SQ';
        else if (c === '"') state = 'DQ';
        else if (c === '\\') state = 'VALUE_ESCAPE';
        else if (!WHITESPACE.includes(c)) { state = 'VALUE'; value += c; }
        break;
      case 'VALUE':
        if (NEWLINE.includes(c)) { state = 'PRE_KEY'; push(true); }
        else if (c === '\\') { state = 'VALUE_ESCAPE'; valueTrailingWs = -1; }
        else {
          if (!WHITESPACE.includes(c)) valueTrailingWs = -1;
          else if (valueTrailingWs < 0) valueTrailingWs = value.length;
          value += c;
        }
        break;
      case 'VALUE_ESCAPE':
        state = 'VALUE';
        if (!NEWLINE.includes(c)) value += c;
        break;
      case 'SQ':
        if (c === "'") state = 'PRE_VALUE';
        else value += c;
        break;
      case 'DQ':
        if (c === '"') state = 'PRE_VALUE';
        else if (c === '\\') state = 'DQ_ESCAPE';
        else value += c;
        break;
      case 'DQ_ESCAPE':
        state = 'DQ';
        if (SHELL_NEED_ESCAPE.includes(c)) value += c;
        else if (c !== '\n') value += `\\${c}`;
        break;
      case 'COMMENT':
        if (c === '\\') state = 'COMMENT_ESCAPE';
        else if (NEWLINE.includes(c)) state = 'PRE_KEY';
        break;
      case 'COMMENT_ESCAPE':
        state = NEWLINE.includes(c) ? 'PRE_KEY' : 'COMMENT';
        break;
    }
  }
  if (['PRE_VALUE', 'VALUE', 'VALUE_ESCAPE', 'SQ', 'DQ', 'DQ_ESCAPE'].includes(state)) push(state === 'VALUE');
  return env;
}
