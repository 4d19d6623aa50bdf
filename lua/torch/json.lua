-- torch.json: a small strict JSON reader and writer (RFC 8259), for file headers
-- such as safetensors'. The reader accepts exactly one value surrounded by
-- whitespace and rejects everything else: trailing garbage, duplicate object keys,
-- invalid UTF-8, lone surrogates, control characters in strings, leading zeros,
-- and nesting deeper than a limit (so a hostile header cannot exhaust the stack).
--
--   json.decode(s [, {max_depth=64}]) -> value   objects and arrays become Lua
--       tables (arrays get json.is_array(t) == true), null becomes json.null,
--       integers that fit 64 bits become Lua integers, other numbers floats
--   json.encode(v) -> string   tables with only keys 1..n are arrays, others
--       objects with their keys sorted; strings are escaped as JSON requires
local json = {}

json.null = setmetatable({}, { __tostring = function() return 'null' end, __name = 'json.null' })

local array_mt = { __name = 'json.array' }
function json.is_array(t) return getmetatable(t) == array_mt end

local function fail(s, pos, msg)
  local line = 1
  for _ in s:sub(1, pos - 1):gmatch('\n') do line = line + 1 end
  error(string.format('json: %s at byte %d (line %d)', msg, pos, line), 0)
end

local escapes = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

local function skip_ws(s, pos)
  return s:find('[^ \t\r\n]', pos) or #s + 1
end

local function read_string(s, pos) -- pos at the opening quote
  local parts = {}
  local i = pos + 1
  while true do
    local j = s:find('["\\\0-\31]', i)
    if not j then fail(s, pos, 'unterminated string') end
    parts[#parts + 1] = s:sub(i, j - 1)
    local c = s:sub(j, j)
    if c == '"' then return table.concat(parts), j + 1 end
    if c ~= '\\' then fail(s, j, 'control character in a string') end
    local e = s:sub(j + 1, j + 1)
    if escapes[e] then
      parts[#parts + 1] = escapes[e]
      i = j + 2
    elseif e == 'u' then
      local hex = s:match('^%x%x%x%x', j + 2)
      if not hex then fail(s, j, 'bad \\u escape') end
      local cp = tonumber(hex, 16)
      i = j + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local lo = s:match('^\\u(%x%x%x%x)', i)
        lo = lo and tonumber(lo, 16)
        if not lo or lo < 0xDC00 or lo > 0xDFFF then fail(s, j, 'unpaired surrogate in a \\u escape') end
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
        i = i + 6
      elseif cp >= 0xDC00 and cp <= 0xDFFF then
        fail(s, j, 'unpaired surrogate in a \\u escape')
      end
      parts[#parts + 1] = utf8.char(cp)
    else
      fail(s, j, 'bad escape \\' .. e)
    end
  end
end

local function read_number(s, pos)
  local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', pos)
  if not num or not (num:match('^-?0$') or num:match('^-?0[.eE]') or num:match('^-?[1-9]')) then
    fail(s, pos, 'bad number')
  end
  -- the pattern above is loose; check the JSON grammar exactly
  local int, frac, exp = num:match('^(-?%d+)(%.?%d*)([eE]?[-+]?%d*)$')
  if not int or (frac ~= '' and #frac < 2) or (exp ~= '' and not exp:match('^[eE][-+]?%d+$')) then
    fail(s, pos, 'bad number ' .. num)
  end
  local v
  if frac == '' and exp == '' then
    v = math.tointeger(tonumber(int))
    if not v or tostring(v) ~= int:gsub('^%-0$', '0') then
      if int ~= '-0' then fail(s, pos, 'integer ' .. int .. ' does not fit in 64 bits') end
      v = 0
    end
  else
    v = tonumber(num)
  end
  return v, pos + #num
end

local read_value

local function read_array(s, pos, depth, max_depth)
  local t = setmetatable({}, array_mt)
  pos = skip_ws(s, pos + 1)
  if s:sub(pos, pos) == ']' then return t, pos + 1 end
  while true do
    t[#t + 1], pos = read_value(s, pos, depth + 1, max_depth)
    pos = skip_ws(s, pos)
    local c = s:sub(pos, pos)
    if c == ']' then return t, pos + 1 end
    if c ~= ',' then fail(s, pos, "expected ',' or ']' in an array") end
    pos = skip_ws(s, pos + 1)
  end
end

local function read_object(s, pos, depth, max_depth)
  local t = {}
  pos = skip_ws(s, pos + 1)
  if s:sub(pos, pos) == '}' then return t, pos + 1 end
  while true do
    if s:sub(pos, pos) ~= '"' then fail(s, pos, 'expected a string key in an object') end
    local key
    local kpos = pos
    key, pos = read_string(s, pos)
    if t[key] ~= nil then fail(s, kpos, string.format('duplicate key %q', key)) end
    pos = skip_ws(s, pos)
    if s:sub(pos, pos) ~= ':' then fail(s, pos, "expected ':' after an object key") end
    t[key], pos = read_value(s, skip_ws(s, pos + 1), depth + 1, max_depth)
    pos = skip_ws(s, pos)
    local c = s:sub(pos, pos)
    if c == '}' then return t, pos + 1 end
    if c ~= ',' then fail(s, pos, "expected ',' or '}' in an object") end
    pos = skip_ws(s, pos + 1)
  end
end

function read_value(s, pos, depth, max_depth)
  if depth > max_depth then fail(s, pos, 'nested deeper than ' .. max_depth .. ' levels') end
  local c = s:sub(pos, pos)
  if c == '{' then return read_object(s, pos, depth, max_depth) end
  if c == '[' then return read_array(s, pos, depth, max_depth) end
  if c == '"' then return read_string(s, pos) end
  if c == '-' or c:match('%d') then return read_number(s, pos) end
  if s:sub(pos, pos + 3) == 'true' then return true, pos + 4 end
  if s:sub(pos, pos + 4) == 'false' then return false, pos + 5 end
  if s:sub(pos, pos + 3) == 'null' then return json.null, pos + 4 end
  if c == '' then fail(s, pos, 'unexpected end of input') end
  fail(s, pos, 'unexpected character ' .. string.format('%q', c))
end

--- Parses the JSON text s; raises 'json: ...' with the byte position on any error.
function json.decode(s, opts)
  if type(s) ~= 'string' then error('json.decode: expected a string, got ' .. type(s), 2) end
  local max_depth = opts and opts.max_depth or 64
  if not utf8.len(s) then
    local _, bad = utf8.len(s)
    fail(s, bad, 'invalid UTF-8')
  end
  local v, pos = read_value(s, skip_ws(s, 1), 1, max_depth)
  pos = skip_ws(s, pos)
  if pos <= #s then fail(s, pos, 'trailing characters after the JSON value') end
  return v
end

local function encode_string(str)
  return '"' .. str:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    if c == '\n' then return '\\n' end
    if c == '\r' then return '\\r' end
    if c == '\t' then return '\\t' end
    if c == '\b' then return '\\b' end
    if c == '\f' then return '\\f' end
    if c:byte() == 127 then return c end -- DEL needs no escape
    return string.format('\\u%04x', c:byte())
  end) .. '"'
end
json.encode_string = encode_string

local function encode(v, out, depth)
  if depth > 64 then error('json.encode: nested deeper than 64 levels (a cycle?)', 0) end
  local tv = type(v)
  if v == json.null or v == nil then
    out[#out + 1] = 'null'
  elseif tv == 'boolean' then
    out[#out + 1] = tostring(v)
  elseif tv == 'number' then
    if math.type(v) == 'integer' then
      out[#out + 1] = string.format('%d', v)
    elseif v ~= v or v == math.huge or v == -math.huge then
      error('json.encode: ' .. tostring(v) .. ' has no JSON representation', 0)
    else
      out[#out + 1] = string.format('%.17g', v)
    end
  elseif tv == 'string' then
    if not utf8.len(v) then error('json.encode: a string is not valid UTF-8', 0) end
    out[#out + 1] = encode_string(v)
  elseif tv == 'table' then
    local n = #v
    local keys, is_array = {}, true
    for k in pairs(v) do
      keys[#keys + 1] = k
      if math.type(k) ~= 'integer' or k < 1 or k > n then is_array = false end
    end
    if is_array and (n > 0 or json.is_array(v)) then
      out[#out + 1] = '['
      for i = 1, n do
        if i > 1 then out[#out + 1] = ',' end
        encode(v[i], out, depth + 1)
      end
      out[#out + 1] = ']'
    else
      for _, k in ipairs(keys) do
        if type(k) ~= 'string' then error('json.encode: object keys must be strings, got ' .. type(k), 0) end
      end
      table.sort(keys)
      out[#out + 1] = '{'
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = ',' end
        encode(k, out, depth + 1)
        out[#out + 1] = ':'
        encode(v[k], out, depth + 1)
      end
      out[#out + 1] = '}'
    end
  else
    error('json.encode: cannot encode a ' .. tv, 0)
  end
end

--- JSON text for v (compact, object keys sorted).
function json.encode(v)
  local out = {}
  encode(v, out, 1)
  return table.concat(out)
end

return json
