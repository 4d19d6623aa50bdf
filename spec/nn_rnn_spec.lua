-- nn.RNN / nn.LSTM / nn.GRU and their cells against PyTorch (spec/fixtures/nn_rnn.lua,
-- scripts/fixtures/gen_nn_rnn.py): outputs, final states and every gradient for
-- num_layers {1, 2} x bidirectional x batch_first x initial state, padded and packed;
-- gradcheck of the fused C op; dropout; errors; the tutorials' "hello" -> "ohlol".
local torch = require 'torch'
local nn = require 'nn'
local optim = require 'optim'
local H = require 'spec.support.helpers'

local PackedSequence = nn.utils.rnn.PackedSequence

local fx = H.fixture('nn_rnn')

local function shape(t)
  local s = {}
  for i = 1, t:dim() do s[i] = t:size(i) end
  return s
end

local function tol(dtype)
  if dtype == 'float64' then return { rtol = 1e-5, atol = 1e-8 } end
  return { rtol = 1e-4, atol = 2e-5 }
end

local function cast(f, dtype)
  return H.tensor(f):to(dtype)
end

local function load(net, weights, dtype)
  local sd = {}
  for k, w in pairs(weights) do sd[k] = cast(w, dtype) end
  net:load_state_dict(sd)
end

local function make_layer(c, dtype)
  local o = { num_layers = c.layers, bidirectional = c.bidir, batch_first = c.bf, dtype = dtype, proj_size = c.proj }
  local net
  if c.kind == 'LSTM' then
    net = nn.LSTM(3, c.hidden or 2, o)
  elseif c.kind == 'GRU' then
    net = nn.GRU(3, 2, o)
  else
    o.nonlinearity = c.kind == 'RNN_RELU' and 'relu' or 'tanh'
    net = nn.RNN(3, 2, o)
  end
  load(net, c.weights, dtype)
  return net
end

local function case_name(c)
  return ('%s layers=%d bidir=%s batch_first=%s init=%s packed=%s'):format(c.kind, c.layers, tostring(c.bidir),
    tostring(c.bf), tostring(c.init), tostring(c.packed))
end

local function run_layer_case(c, dtype)
  local net = make_layer(c, dtype)
  local t = tol(dtype)
  local x, input
  if c.packed then
    x = cast(c.data, dtype):requires_grad_()
    input = PackedSequence(x, H.tensor(c.batch_sizes), H.tensor(c.sorted_indices), H.tensor(c.unsorted_indices))
  else
    x = cast(c.x, dtype):requires_grad_()
    input = x
  end
  local h0, c0, hx
  if c.init then
    h0 = cast(c.h0, dtype):requires_grad_()
    if c.c0 then c0 = cast(c.c0, dtype):requires_grad_() end
    hx = c0 and { h0, c0 } or h0
  end
  local out, st = net(input, hx)
  local hn, cn = st, nil
  if c.kind == 'LSTM' then hn, cn = st[1], st[2] end
  local o = c.packed and out.data or out
  if c.packed then assert.equals('nn.utils.rnn.PackedSequence', torch.type(out)) end
  H.assert_close(o, c.out, { rtol = t.rtol, atol = t.atol, dtype = dtype })
  H.assert_close(hn, c.hn, { rtol = t.rtol, atol = t.atol, dtype = dtype })
  local loss = (o * cast(c.gout, dtype)):sum() + (hn * cast(c.ghn, dtype)):sum()
  if cn then
    H.assert_close(cn, c.cn, { rtol = t.rtol, atol = t.atol, dtype = dtype })
    loss = loss + (cn * cast(c.gcn, dtype)):sum()
  end
  loss:backward()
  local named = {}
  for _, e in ipairs(net:named_parameters()) do named[e[1]] = e[2] end
  local n = 0
  for k, g in pairs(c.grads) do
    local p = named[k]
    assert(p, 'missing parameter ' .. k)
    H.assert_close(p.grad, g, { rtol = t.rtol, atol = t.atol, dtype = dtype })
    n = n + 1
  end
  assert.equals(#net:parameters(), n)
  H.assert_close(x.grad, c.gx, { rtol = t.rtol, atol = t.atol, dtype = dtype })
  if h0 then H.assert_close(h0.grad, c.gh0, { rtol = t.rtol, atol = t.atol, dtype = dtype }) end
  if c0 then H.assert_close(c0.grad, c.gc0, { rtol = t.rtol, atol = t.atol, dtype = dtype }) end
end

describe('nn.RNN / nn.LSTM / nn.GRU against PyTorch', function()
  it('LSTM with proj_size: outputs, states and every gradient (16 cases, float64 and float32)', function()
    local proj = H.fixture('nn_rnn_proj')
    for _, dtype in ipairs({ 'float64', 'float32' }) do
      for _, c in ipairs(proj) do
        c.kind, c.bf, c.hidden, c.proj = 'LSTM', false, 4, 2
        local ok, err = pcall(run_layer_case, c, dtype)
        if not ok then error('proj_size ' .. case_name(c) .. ' ' .. dtype .. ': ' .. tostring(err), 0) end
      end
    end
    local net = nn.LSTM(3, 4, { proj_size = 2, bidirectional = true })
    local names = {}
    for _, e in ipairs(net:named_parameters()) do names[#names + 1] = e[1] end
    assert.same(proj[3].keys, { table.unpack(names, 1, 5) })
    H.assert_error(function() nn.LSTM(3, 4, { proj_size = 4 }) end, 'proj_size (4) has to be smaller than hidden_size (4)')
  end)

  for _, dtype in ipairs({ 'float64', 'float32' }) do
    it('outputs, final states and every gradient (' .. dtype .. ', ' .. #fx.layers .. ' cases)', function()
      for _, c in ipairs(fx.layers) do
        local ok, err = pcall(run_layer_case, c, dtype)
        if not ok then error(case_name(c) .. ': ' .. tostring(err), 0) end
      end
    end)
  end

  it('registers parameters in PyTorch order with PyTorch names and shapes', function()
    local net = nn.LSTM(3, 5, { num_layers = 2, bidirectional = true })
    local want = {}
    for l = 0, 1 do
      for _, s in ipairs({ '', '_reverse' }) do
        for _, w in ipairs({ 'weight_ih', 'weight_hh', 'bias_ih', 'bias_hh' }) do
          want[#want + 1] = ('%s_l%d%s'):format(w, l, s)
        end
      end
    end
    local params = net:parameters()
    assert.equals(#want, #params)
    for i, name in ipairs(want) do assert.equals(net[name], params[i]) end
    assert.same({ 20, 3 }, shape(net.weight_ih_l0))
    assert.same({ 20, 10 }, shape(net.weight_ih_l1_reverse))
    assert.same({ 20, 5 }, shape(net.weight_hh_l1))
    local bound = 1 / math.sqrt(5)
    for _, p in ipairs(params) do assert.is_true(p:abs():max():item() <= bound) end
    local nb = nn.GRU(3, 4, { bias = false })
    assert.equals(2, #nb:parameters())
  end)
end)

describe('recurrent cells against PyTorch', function()
  local function make_cell(c, dtype)
    if c.kind == 'LSTM' then return nn.LSTMCell(3, 2, { dtype = dtype }) end
    if c.kind == 'GRU' then return nn.GRUCell(3, 2, { dtype = dtype }) end
    return nn.RNNCell(3, 2, { nonlinearity = c.kind == 'RNN_RELU' and 'relu' or 'tanh', dtype = dtype })
  end
  for _, dtype in ipairs({ 'float64', 'float32' }) do
    it('RNNCell, LSTMCell, GRUCell: output and gradients (' .. dtype .. ')', function()
      local t = tol(dtype)
      for _, c in ipairs(fx.cells) do
        local cell = make_cell(c, dtype)
        load(cell, c.weights, dtype)
        local x = cast(c.x, dtype):requires_grad_()
        local h0, c0, h1, c1
        if c.init then h0 = cast(c.h0, dtype):requires_grad_() end
        if c.c0 then c0 = cast(c.c0, dtype):requires_grad_() end
        if c.kind == 'LSTM' then
          h1, c1 = cell(x, c.init and { h0, c0 } or nil)
        else
          h1 = cell(x, h0)
        end
        t.dtype = dtype
        H.assert_close(h1, c.h1, t)
        local loss = (h1 * cast(c.gh, dtype)):sum()
        if c1 then
          H.assert_close(c1, c.c1, t)
          loss = loss + (c1 * cast(c.gc, dtype)):sum()
        end
        loss:backward()
        for k, g in pairs(c.grads) do H.assert_close(cell[k].grad, g, t) end
        H.assert_close(x.grad, c.gx, t)
        if h0 then H.assert_close(h0.grad, c.gh0, t) end
        if c0 then H.assert_close(c0.grad, c.gc0, t) end
      end
    end)
  end
end)

describe('torch._rnn', function()
  local function opts() return { dtype = 'float64', requires_grad = true } end

  it('passes gradcheck in float64 for every mode, both directions, packed batch sizes', function()
    local bs = torch.tensor({ 3, 2, 2, 1 })
    for _, mode in ipairs({ 'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU' }) do
      local G = ({ RNN_TANH = 1, RNN_RELU = 1, LSTM = 4, GRU = 3 })[mode] * 2
      for _, reverse in ipairs({ false, true }) do
        local x, h0 = torch.randn(8, 3, opts()), torch.randn(3, 2, opts())
        local c0 = mode == 'LSTM' and torch.randn(3, 2, opts()) or nil
        local wih, whh = torch.randn(G, 3, opts()), torch.randn(G, 2, opts())
        local bih, bhh = torch.randn(G, opts()), torch.randn(G, opts())
        local inputs = { x, h0, wih, whh, bih, bhh, c0 }
        assert.is_true(torch.autograd.gradcheck(function(a, h, wi, wh, bi, bh, cc)
          return torch._rnn(mode, a, bs, h, cc, wi, wh, bi, bh, reverse)
        end, inputs), mode .. (reverse and ' reverse' or ''))
      end
    end
  end)

  it('passes gradcheck through a stacked bidirectional layer and without biases', function()
    local net = nn.GRU(2, 2, { num_layers = 2, bidirectional = true, dtype = 'float64' })
    local x, h0 = torch.randn(3, 2, 2, opts()), torch.randn(4, 2, 2, opts())
    assert.is_true(torch.autograd.gradcheck(function(a, h) return net(a, h) end, { x, h0 }))
    local lstm = nn.LSTM(2, 3, { bias = false, batch_first = true, dtype = 'float64' })
    assert.is_true(torch.autograd.gradcheck(function(a)
      local o, st = lstm(a)
      return o, st[1], st[2]
    end, { torch.randn(2, 3, 2, opts()) }))
  end)

  it('refuses double backward, and records nothing when no input requires grad', function()
    local net = nn.GRU(3, 4)
    local x = torch.randn(5, 2, 3, { requires_grad = true })
    local out = net(x)
    H.assert_error(function() torch.autograd.grad({ out:sum() }, { x }, { create_graph = true }) end,
      'GRUBackward: double backward is not supported')
    torch.no_grad(function()
      local o2 = net(x)
      assert.is_false(o2.requires_grad)
    end)
  end)

  it('gives clear errors for wrong arguments', function()
    local x, h0 = torch.randn(6, 3), torch.randn(2, 4)
    local w1, w2 = torch.randn(12, 3), torch.randn(12, 4)
    H.assert_error(function() torch._rnn('LSTMX', x, torch.tensor({ 2, 2, 2 }), h0, nil, w1, w2) end, 'mode must be')
    H.assert_error(function() torch._rnn('GRU', x, torch.tensor({ 2, 2, 1 }), h0, nil, w1, w2) end,
      'batch_sizes sum to 5 but the input has 6 rows')
    H.assert_error(function() torch._rnn('GRU', x, torch.tensor({ 2, 1, 3 }), h0, nil, w1, w2) end,
      'non-increasing')
    H.assert_error(function() torch._rnn('GRU', x, torch.tensor({ 3, 3 }), h0, nil, w1, w2) end,
      'batch_sizes[1] is 3 but the initial state holds 2')
    H.assert_error(function() torch._rnn('LSTM', x, torch.tensor({ 2, 2, 2 }), h0, nil, w1, w2) end,
      'LSTM needs a cell state')
    H.assert_error(function() torch._rnn('GRU', x, torch.tensor({ 2, 2, 2 }), h0, nil, torch.randn(9, 3), w2) end,
      'expected weight_ih of size (12, 3)')
    H.assert_error(function() torch._rnn('GRU', x:double(), torch.tensor({ 2, 2, 2 }), h0, nil, w1, w2) end,
      'h0 has dtype float32 but the input has float64')
  end)
end)

describe('recurrent layers: inputs, states, dropout, errors', function()
  it('takes batch_first, unbatched input and gives PyTorch layouts', function()
    torch.manual_seed(1)
    local net = nn.GRU(3, 4, { num_layers = 2, bidirectional = true })
    local x = torch.randn(5, 2, 3)
    local out, hn = net(x)
    assert.same({ 5, 2, 8 }, shape(out))
    assert.same({ 4, 2, 4 }, shape(hn))
    -- h_n holds the last step of the forward direction and the first of the reverse one
    H.assert_close(hn[3], out[5]:narrow(2, 1, 4))
    H.assert_close(hn[4], out[1]:narrow(2, 5, 4))
    local u, hu = net(x:select(2, 2))
    assert.same({ 5, 8 }, shape(u))
    assert.same({ 4, 4 }, shape(hu))
    H.assert_close(u, out:select(2, 2))
    net.batch_first = true
    local ob = net(x:transpose(1, 2))
    H.assert_close(ob, out:transpose(1, 2))
    local lstm = nn.LSTM(3, 4)
    local o, st = lstm(x)
    assert.equals(2, #st)
    assert.same({ 1, 2, 4 }, shape(st[2]))
    local o2 = lstm(x, st)
    assert.same({ 5, 2, 4 }, shape(o2))
    H.assert_close(o[5], st[1][1])
  end)

  it('applies dropout between layers in training mode only', function()
    torch.manual_seed(2)
    local net = nn.LSTM(3, 6, { num_layers = 2, dropout = 0.5 })
    local x = torch.randn(4, 3, 3)
    net:eval()
    local a, b = net(x), net(x)
    H.assert_close(a, b)
    net:train()
    local c = net(x)
    assert.is_true((c - a):abs():max():item() > 1e-4)
    local single = nn.GRU(3, 6, { dropout = 0.5 })
    H.assert_close(single(x), single(x))
  end)

  it('gives clear errors for wrong input sizes and states', function()
    local net = nn.GRU(3, 4, { num_layers = 2 })
    H.assert_error(function() net(torch.randn(5, 2, 7)) end, 'GRU: expected input of size (seq, batch, 3)')
    H.assert_error(function() net(torch.randn(5)) end, 'GRU: expected input of size')
    H.assert_error(function() net(torch.randn(5, 2, 3), torch.randn(1, 2, 4)) end,
      'GRU: expected hx of size (2, 2, 4), got')
    H.assert_error(function() nn.LSTM(3, 4)(torch.randn(5, 2, 3), torch.randn(1, 2, 4)) end,
      'LSTM: the initial state must be a table')
    H.assert_error(function() nn.LSTM(3, 4, { proj_size = -1 }) end, 'proj_size')
    H.assert_error(function() nn.RNN(3, 4, { nonlinearity = 'sigmoid' }) end, "nonlinearity must be 'tanh' or 'relu'")
    H.assert_error(function() nn.RNNCell(3, 4)(torch.randn(2, 5)) end, 'RNNCell: expected input of size (batch, 3)')
    H.assert_error(function() nn.GRUCell(3, 4)(torch.randn(2, 3), torch.randn(3, 4)) end,
      'GRUCell: expected hx of size (2, 4)')
    -- a PackedSequence whose batch sizes do not fit its data cannot be made (nn.utils.rnn checks)
    H.assert_error(function() PackedSequence(torch.randn(5, 3), torch.tensor({ 2, 2, 2 })) end,
      'batch_sizes sum to 6 but data has 5 rows')
  end)
end)

describe('the tutorials: "hello" -> "ohlol"', function()
  -- h, e, l, o -> classes 1..4
  local x_idx = { 1, 2, 3, 3, 4 } -- hello
  local y = torch.tensor({ 4, 1, 3, 4, 3 }) -- ohlol
  local eye = torch.eye(4)

  local function predicted(logits) return logits:argmax(2):tolist() end

  it('RNNCell + Adam lr 0.1 learns the mapping within 15 epochs', function()
    torch.manual_seed(0)
    local cell = nn.RNNCell(4, 4)
    local crit = nn.CrossEntropyLoss()
    local opt = optim.Adam(cell:parameters(), { lr = 0.1 })
    local learned = false
    for _ = 1, 15 do
      opt:zero_grad()
      local hidden = torch.zeros(1, 4)
      local loss, outs = 0, {}
      for i, c in ipairs(x_idx) do
        hidden = cell(eye:narrow(1, c, 1), hidden)
        outs[i] = hidden
        loss = loss + crit(hidden, y:narrow(1, i, 1))
      end
      loss:backward()
      opt:step()
      learned = torch.cat(outs, 1):argmax(2):equal(y)
      if learned then break end
    end
    assert.is_true(learned)
  end)

  it('nn.RNN learns it within 15 epochs', function()
    torch.manual_seed(0)
    local rnn = nn.RNN(4, 4, { batch_first = true })
    local crit = nn.CrossEntropyLoss()
    local opt = optim.Adam(rnn:parameters(), { lr = 0.1 })
    local inputs = eye:index_select(1, torch.tensor(x_idx)):view(1, 5, 4)
    local learned = false
    for _ = 1, 15 do
      opt:zero_grad()
      local out = rnn(inputs, torch.zeros(1, 1, 4))
      local logits = out:view(-1, 4)
      crit(logits, y):backward()
      opt:step()
      learned = logits:argmax(2):equal(y)
      if learned then break end
    end
    assert.is_true(learned)
  end)

  it('Embedding + 2-layer RNN (batch_first) + Linear learns it', function()
    torch.manual_seed(0)
    local emb, rnn, fc = nn.Embedding(4, 10), nn.RNN(10, 8, { num_layers = 2, batch_first = true }), nn.Linear(8, 4)
    local params = {}
    for _, m in ipairs({ emb, rnn, fc }) do
      for _, p in ipairs(m:parameters()) do params[#params + 1] = p end
    end
    local crit = nn.CrossEntropyLoss()
    local opt = optim.Adam(params, { lr = 0.1 })
    local x = torch.tensor({ x_idx })
    local learned = false
    for _ = 1, 50 do
      opt:zero_grad()
      local out = rnn(emb(x))
      local logits = fc(out):view(-1, 4)
      crit(logits, y):backward()
      opt:step()
      learned = logits:argmax(2):equal(y)
      if learned then break end
    end
    assert.is_true(learned)
  end)
end)

describe('the names classifier (tutorial)', function()
  it('a bidirectional 2-layer GRU over packed embedded names learns the countries of a generated CSV', function()
    local optim = require 'optim'
    local F = require 'nn.functional'
    local R = nn.utils.rnn
    torch.manual_seed(3)
    -- a small generated CSV: each country has its own syllables
    local syl = { { 'ka', 'to', 'mi', 'ru' }, { 'ber', 'stein', 'mann', 'hof' }, { 'el', 'li', 'no', 'ssa' },
      { 'ov', 'sky', 'ich', 'enko' } }
    local path = os.tmpname()
    local f = assert(io.open(path, 'w'))
    f:write('name,country\n')
    local rng = 12345
    local function rand(n)
      rng = (rng * 1103515245 + 12345) % 2147483648
      return rng % n + 1
    end
    for c = 1, 4 do
      for _ = 1, 30 do
        local parts = {}
        for p = 1, rand(3) + 1 do parts[p] = syl[c][rand(4)] end
        f:write(table.concat(parts), ',', c, '\n')
      end
    end
    f:close()
    local names, labels = {}, {}
    for line in io.lines(path) do
      local name, country = line:match('^([^,]+),(%d+)$')
      if name then names[#names + 1], labels[#labels + 1] = name, tonumber(country) end
    end
    os.remove(path)
    assert.are.equal(120, #names)

    local emb = nn.Embedding(128, 16)
    local gru = nn.GRU(16, 24, { num_layers = 2, bidirectional = true })
    local fc = nn.Linear(48, 4)
    local params = {}
    for _, m in ipairs { emb, gru, fc } do
      for _, p in ipairs(m:parameters()) do params[#params + 1] = p end
    end
    local opt = optim.Adam(params, { lr = 0.01 })
    local function batch(idx)
      local seqs, lens = {}, {}
      for k, i in ipairs(idx) do
        local codes = { names[i]:byte(1, -1) }
        seqs[k] = torch.tensor(codes) -- ASCII codes are 1-based embedding rows 1..127
        lens[k] = #codes
      end
      local padded = R.pad_sequence(seqs, { padding_value = 1 }) -- (T, B); packing skips the padding
      local packed = R.pack_padded_sequence(emb(padded), lens, { enforce_sorted = false })
      local _, h = gru(packed)                                                 -- h (4, B, 24)
      return fc(torch.cat({ h[3], h[4] }, 2))                                  -- the last layer's two directions
    end
    local all, target = {}, torch.tensor(labels)
    for i = 1, #names do all[i] = i end
    for _ = 1, 25 do
      local perm = torch.randperm(#names):tolist()
      for s = 1, #perm, 30 do
        local idx = { table.unpack(perm, s, math.min(s + 29, #perm)) }
        opt:zero_grad()
        local loss = F.cross_entropy(batch(idx), target:index_select(1, torch.tensor(idx)))
        loss:backward()
        opt:step()
      end
    end
    local acc = torch.no_grad(function() return batch(all):argmax(2):eq(target):float():mean():item() end)
    assert.is_true(acc > 0.9, 'training accuracy ' .. acc)
  end)
end)
