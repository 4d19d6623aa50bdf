-- A character-level language model (char-rnn): an LSTM reads a text one
-- character at a time and learns to predict the next one; then it writes new
-- text by sampling a character, feeding it back, and so on, with a temperature
-- that trades safety (low) for variety (high).
--
--   build/th scripts/examples/char_rnn.lua [text.txt] [--epochs 20] [--seq 64] [--batch 32]
--     [--embed 64] [--hidden 256] [--layers 2] [--dropout 0.1] [--lr 0.003] [--clip 5]
--     [--sample 400] [--temperature 0.8] [--prime "The "] [--seed 1]
--
-- Without a text file it trains on scripts/examples/data/lighthouse.txt (a few KB;
-- any plain text works, a few hundred KB gives nicer samples). The text is read
-- as bytes, so any encoding goes through unchanged.
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'
local F = require 'nn.functional'

local here = (debug.getinfo(1, 'S').source:sub(2):match('^(.*)/[^/]*$')) or '.'

-- ---- options: an optional text path, then --name value or --name=value ----
local opt = {
  text = here .. '/data/lighthouse.txt', epochs = 20, seq = 64, batch = 32, embed = 64, hidden = 256, layers = 2,
  dropout = 0.1, lr = 0.003, clip = 5, sample = 400, temperature = 0.8, prime = 'The ', seed = 1,
}

local function usage(msg)
  local keys = {}
  for k in pairs(opt) do if k ~= 'text' then keys[#keys + 1] = k end end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = opt[k]
    parts[#parts + 1] = ('[--%s %s]'):format(k, type(v) == 'string' and ('%q'):format(v) or tostring(v))
  end
  io.stderr:write((msg and (msg .. '\n') or '') .. 'usage: th char_rnn.lua [text.txt] ' .. table.concat(parts, ' ') .. '\n')
  os.exit(msg and 1 or 0)
end

local argv = arg or {}
local i = 1
while i <= #argv do
  local a = argv[i]
  if a == '-h' or a == '--help' then usage() end
  local k, v = a:match('^%-%-([%w_]+)=(.*)$')
  if not k then k = a:match('^%-%-([%w_]+)$') end
  if not k then
    k, v = 'text', a -- a bare argument is the text file
  elseif not v then
    i = i + 1
    v = argv[i]
    if v == nil then usage('char_rnn: --' .. k .. ' needs a value') end
  end
  if opt[k] == nil then usage('char_rnn: unknown option --' .. k) end
  if type(opt[k]) == 'number' then
    local x = tonumber(v)
    if not x then usage('char_rnn: --' .. k .. ' expects a number, got ' .. v) end
    v = math.tointeger(x) or x
  end
  opt[k] = v
  i = i + 1
end

torch.manual_seed(opt.seed)
math.randomseed(opt.seed)

-- ---- data: the text as 1-based indices into its sorted set of bytes ----
local f, err = io.open(opt.text, 'rb')
if not f then
  io.stderr:write('char_rnn: cannot open ' .. tostring(err) .. '\n')
  os.exit(1)
end
local text = f:read('a')
f:close()
if #text < opt.seq + 2 then
  io.stderr:write(('char_rnn: %s has %d characters; it needs more than --seq %d\n'):format(opt.text, #text, opt.seq))
  os.exit(1)
end

local chars, index = {}, {}
for k = 1, #text do
  local c = text:sub(k, k)
  if not index[c] then
    index[c] = true
    chars[#chars + 1] = c
  end
end
table.sort(chars)
for k, c in ipairs(chars) do index[c] = k end
local V = #chars

local codes = {}
for k = 1, #text do codes[k] = index[text:sub(k, k)] end
local data = torch.tensor(codes) -- (N) int64
print(('%s: %d characters, %d distinct'):format(opt.text, #text, V))

-- B random windows: inputs x (B, S) and targets y (B, S), y shifted by one character
local function batch()
  local B, S = opt.batch, opt.seq
  local idx = {}
  for b = 1, B do
    local start = math.random(1, #text - S)
    for s = 1, S do idx[(b - 1) * S + s] = start + s - 1 end
  end
  local pos = torch.tensor(idx)
  return data:index_select(1, pos):view(B, S), data:index_select(1, pos + 1):view(B, S)
end

-- ---- model ----
local CharLM, parent = torch.class('CharLM', 'nn.Module')

function CharLM:__init(vocab, embed, hidden, layers, dropout)
  parent.__init(self)
  self.embedding = nn.Embedding(vocab, embed)
  self.lstm = nn.LSTM(embed, hidden, { num_layers = layers, dropout = layers > 1 and dropout or 0, batch_first = true })
  self.fc = nn.Linear(hidden, vocab)
end

-- x (B, S) int64 [, state {h, c}] -> logits (B, S, vocab), the new state
function CharLM:forward(x, state)
  local emb = self.embedding(x) -- (B, S, embed)
  local out
  if state then
    out, state = self.lstm(emb, state)
  else
    out, state = self.lstm(emb)
  end
  return self.fc(out), state -- out: (B, S, hidden)
end

local net = CharLM(V, opt.embed, opt.hidden, opt.layers, opt.dropout)
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.Adam(net:parameters(), { lr = opt.lr })
print(net)

-- ---- sampling ----
local function sample(n, temperature, prime)
  net:eval()
  local out = {}
  torch.no_grad(function()
    local p = {}
    for k = 1, #prime do
      local c = index[prime:sub(k, k)]
      if c then p[#p + 1] = c end -- characters the text never had are skipped
    end
    if #p == 0 then p[1] = math.random(V) end
    for k, c in ipairs(p) do out[k] = chars[c] end
    local logits, state = net(torch.tensor(p):view(1, #p))
    local last = logits[1][#p] -- (vocab): scores for the character after the prime
    for _ = 1, n do
      local probs = F.softmax(last / temperature, 1)
      local c = torch.multinomial(probs, 1)[1]
      out[#out + 1] = chars[c]
      logits, state = net(torch.tensor { { c } }, state)
      last = logits[1][1]
    end
  end)
  return table.concat(out)
end

-- ---- training ----
local steps = math.max(10, #text // (opt.batch * opt.seq))
for epoch = 1, opt.epochs do
  net:train()
  local t0 = torch.clock()
  local loss_sum = 0
  for step = 1, steps do
    local x, y = batch()
    local logits = net(x)
    local loss = criterion(logits:reshape(-1, V), y:reshape(-1))
    optimizer:zero_grad()
    loss:backward()
    nn.utils.clip_grad_norm_(net:parameters(), opt.clip)
    optimizer:step()
    loss_sum = loss_sum + loss:item()
    io.write(('\repoch %3d  step %3d/%d  loss %.4f'):format(epoch, step, steps, loss_sum / step))
    io.flush()
  end
  io.write(('  (%.1f s)\n'):format(torch.clock() - t0))
  if epoch % 5 == 0 and epoch < opt.epochs then
    print('  sample: ' .. sample(80, opt.temperature, opt.prime):gsub('\n', ' '))
  end
end

print(('\n-- %d characters at temperature %g --'):format(opt.sample, opt.temperature))
print(sample(opt.sample, opt.temperature, opt.prime))
