-- Classifying surnames by country with a recurrent network, after the PyTorch
-- tutorials: every character's code is embedded, a bidirectional 2-layer GRU
-- reads the names of a batch as one packed sequence (no work on padding), the
-- last layer's final hidden states of both directions are concatenated and a
-- Linear layer scores the countries; CrossEntropy loss, Adam.
--
--   build/th scripts/examples/names_classifier.lua [--csv scripts/examples/data/names.csv]
--     [--epochs 10] [--batch 64] [--embed 64] [--hidden 100] [--lr 0.005] [--test 0.1] [--seed 1]
--
-- The CSV has a header line and rows `name,country`; the default one is small and
-- synthetic (scripts/examples/data/README.md). Countries are numbered from 1 in
-- the order they sort.
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'
local rnn = nn.utils.rnn

local here = (debug.getinfo(1, 'S').source:sub(2):match('^(.*)/[^/]*$')) or '.'

-- ---- options: --name value or --name=value ----
local opt = {
  csv = here .. '/data/names.csv', epochs = 10, batch = 64, embed = 64, hidden = 100, lr = 0.005,
  test = 0.1, seed = 1,
}

local function usage(msg)
  local keys = {}
  for k in pairs(opt) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = ('[--%s %s]'):format(k, tostring(opt[k])) end
  io.stderr:write((msg and (msg .. '\n') or '') .. 'usage: th names_classifier.lua ' .. table.concat(parts, ' ') .. '\n')
  os.exit(msg and 1 or 0)
end

local argv = arg or {}
local i = 1
while i <= #argv do
  local a = argv[i]
  if a == '-h' or a == '--help' then usage() end
  local k, v = a:match('^%-%-([%w_]+)=(.*)$')
  if not k then
    k = a:match('^%-%-([%w_]+)$')
    if not k then usage('names_classifier: unexpected argument ' .. a) end
    i = i + 1
    v = argv[i]
    if v == nil then usage('names_classifier: --' .. k .. ' needs a value') end
  end
  if opt[k] == nil then usage('names_classifier: unknown option --' .. k) end
  if type(opt[k]) == 'number' then
    local x = tonumber(v)
    if not x then usage('names_classifier: --' .. k .. ' expects a number, got ' .. v) end
    v = math.tointeger(x) or x
  end
  opt[k] = v
  i = i + 1
end

torch.manual_seed(opt.seed)
math.randomseed(opt.seed)

-- ---- data ----
local function read_csv(path)
  local f, err = io.open(path, 'r')
  if not f then
    io.stderr:write('names_classifier: cannot open ' .. tostring(err) .. '\n')
    os.exit(1)
  end
  local names, countries, seen = {}, {}, {}
  local n = 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub('\r$', '')
    if n > 1 and line ~= '' then -- the first line is the header
      local name, country = line:match('^(.*),([^,]+)$')
      if not name or name == '' then
        f:close()
        error(('names_classifier: %s line %d is not `name,country`: %s'):format(path, n, line), 0)
      end
      names[#names + 1] = { name = name, country = country }
      if not seen[country] then
        seen[country] = true
        countries[#countries + 1] = country
      end
    end
  end
  f:close()
  table.sort(countries)
  local label = {}
  for k, c in ipairs(countries) do label[c] = k end
  for _, r in ipairs(names) do r.label = label[r.country] end
  return names, countries
end

local VOCAB = 128 -- character codes 0..126 as themselves, everything else as 127

-- a name as embedding indices (1-based: code + 1)
local function encode(name)
  local codes = {}
  local ok = pcall(function()
    for _, c in utf8.codes(name) do codes[#codes + 1] = math.min(c, 127) + 1 end
  end)
  if not ok then -- not UTF-8: bytes
    codes = {}
    for k = 1, #name do codes[k] = math.min(name:byte(k), 127) + 1 end
  end
  return codes
end

-- a batch of rows -> codes (T, B) int64 padded with index 1, lengths {B}, targets (B)
local function batchify(rows)
  local B, T = #rows, 0
  local enc, lengths, targets = {}, {}, {}
  for b, r in ipairs(rows) do
    enc[b] = encode(r.name)
    lengths[b] = #enc[b]
    targets[b] = r.label
    if lengths[b] > T then T = lengths[b] end
  end
  local flat = {}
  for t = 1, T do
    for b = 1, B do flat[(t - 1) * B + b] = enc[b][t] or 1 end
  end
  return torch.tensor(flat):view(T, B), lengths, torch.tensor(targets)
end

local rows, countries = read_csv(opt.csv)
for k = #rows, 2, -1 do -- shuffle once, then hold out the last `test` fraction
  local j = math.random(k)
  rows[k], rows[j] = rows[j], rows[k]
end
local ntest = math.floor(#rows * opt.test)
local train, test = {}, {}
for k, r in ipairs(rows) do
  if k <= #rows - ntest then train[#train + 1] = r else test[#test + 1] = r end
end
print(('%d names, %d countries (%d for training, %d held out)'):format(#rows, #countries, #train, #test))

-- ---- model ----
local Classifier, parent = torch.class('NamesClassifier', 'nn.Module')

function Classifier:__init(vocab, embed, hidden, classes)
  parent.__init(self)
  self.embedding = nn.Embedding(vocab, embed)
  self.gru = nn.GRU(embed, hidden, { num_layers = 2, bidirectional = true })
  self.fc = nn.Linear(2 * hidden, classes)
end

-- codes (T, B) int64, lengths {B} -> scores (B, classes)
function Classifier:forward(codes, lengths)
  local emb = self.embedding(codes) -- (T, B, embed)
  local packed = rnn.pack_padded_sequence(emb, lengths, { enforce_sorted = false })
  local _, h = self.gru(packed) -- h: (num_layers * 2, B, hidden), in the batch's own order
  local n = h:size(1)
  local last = torch.cat({ h[n - 1], h[n] }, 2) -- last layer: forward ++ backward, (B, 2 * hidden)
  return self.fc(last)
end

local net = Classifier(VOCAB, opt.embed, opt.hidden, #countries)
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.Adam(net:parameters(), { lr = opt.lr })
print(net)

local function progress(epoch, done, total, loss, acc)
  local width = 30
  local fill = math.floor(width * done / total)
  io.write(('\repoch %2d [%s%s] %4d/%d  loss %.4f  acc %5.1f%%'):format(epoch, ('='):rep(fill),
    (' '):rep(width - fill), done, total, loss, acc * 100))
  io.flush()
end

local function accuracy(set)
  if #set == 0 then return 0 / 0 end
  net:eval()
  local correct = 0
  torch.no_grad(function()
    for s = 1, #set, 256 do
      local chunk = {}
      for k = s, math.min(s + 255, #set) do chunk[#chunk + 1] = set[k] end
      local codes, lengths, targets = batchify(chunk)
      correct = correct + net(codes, lengths):argmax(2):eq(targets):sum():item()
    end
  end)
  return correct / #set
end

-- ---- training ----
for epoch = 1, opt.epochs do
  net:train()
  local t0 = torch.clock()
  local order = torch.randperm(#train):tolist()
  local seen, loss_sum, correct = 0, 0, 0
  for s = 1, #train, opt.batch do
    local chunk = {}
    for k = s, math.min(s + opt.batch - 1, #train) do chunk[#chunk + 1] = train[order[k]] end
    local codes, lengths, targets = batchify(chunk)
    local scores = net(codes, lengths)
    local loss = criterion(scores, targets)
    optimizer:zero_grad()
    loss:backward()
    optimizer:step()
    seen = seen + #chunk
    loss_sum = loss_sum + loss:item() * #chunk
    correct = correct + scores:argmax(2):eq(targets):sum():item()
    progress(epoch, seen, #train, loss_sum / seen, correct / seen)
  end
  io.write(('  test acc %5.1f%%  (%.1f s)\n'):format(accuracy(test) * 100, torch.clock() - t0))
end

-- ---- a few predictions ----
local function predict(name, k)
  net:eval()
  local codes, lengths = batchify({ { name = name, label = 1 } })
  local probs = torch.no_grad(function() return nn.functional.softmax(net(codes, lengths), 2)[1] end)
  local p, idx = probs:topk(k)
  local parts = {}
  for j = 1, k do parts[j] = ('%s %.2f'):format(countries[idx[j]], p[j]) end
  print(('%-12s -> %s'):format(name, table.concat(parts, ', ')))
end

print(('train accuracy %.1f%%'):format(accuracy(train) * 100))
for _, name in ipairs { 'Nakamura', 'Schneider', 'Kowalski', 'Papadakis', 'O\'Leary', 'Nguyen', 'Rossetti' } do
  predict(name, 3)
end
