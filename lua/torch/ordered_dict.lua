-- torch.OrderedDict(): a table whose pairs() walks its keys in insertion order, as
-- Python's dicts do. State dicts and the dicts read from PyTorch checkpoints are
-- OrderedDicts; torch.save keeps their order. The key list is getmetatable(d).keys
-- (a key assigned nil stays listed but pairs() skips it); torch.is_ordered_dict(v)
-- tells them apart. #d is 0, as for any table without an array part.
return function(torch)
  local NAME = 'torch.OrderedDict'

  function torch.OrderedDict()
    local keys, index = {}, {}
    local mt = {
      keys = keys,
      index = index,
      __name = NAME,
      __len = function() return 0 end,
      __pairs = function(t)
        local i = 0
        return function()
          repeat
            i = i + 1
            local k = keys[i]
            if k == nil then return nil end
            local v = rawget(t, k)
            if v ~= nil then return k, v end
          until false
        end, t, nil
      end,
    }
    mt.__newindex = function(t, k, v)
      if not index[k] then keys[#keys + 1], index[k] = k, true end
      rawset(t, k, v)
    end
    return setmetatable({}, mt)
  end

  function torch.is_ordered_dict(v)
    local mt = type(v) == 'table' and getmetatable(v)
    return type(mt) == 'table' and rawget(mt, '__name') == NAME and type(rawget(mt, 'keys')) == 'table'
  end
end
