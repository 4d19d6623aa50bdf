-- Dataset base classes. A map-style dataset is any object answering #ds and ds[i]
-- (1-based); subclasses of data.Dataset define __len and get(i), and ds[i] calls
-- get(i). An iterable-style dataset (data.IterableDataset) defines iter(), a
-- function returning an iterator over its samples.
local torch = require 'torch'
local data = require 'data'

local Dataset = torch.class('data.Dataset')

function Dataset:__init() end

-- ds[i] for integer i: the subclass's get(i) (torch.class calls this hook for keys
-- the instance and its class do not hold)
function Dataset:__index_missing(k)
  if math.type(k) == 'integer' then
    local get = self.get
    if get then return get(self, k) end
  end
end

function Dataset:__len()
  error(torch.type(self) .. ': a map-style dataset must define __len', 2)
end

local IterableDataset = torch.class('data.IterableDataset')

function IterableDataset:__init() end

function IterableDataset:iter()
  error(torch.type(self) .. ': an iterable dataset must define iter()', 2)
end

data.Dataset, data.IterableDataset = Dataset, IterableDataset
return data
